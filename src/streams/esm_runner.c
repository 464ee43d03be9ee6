/*-------------------------------------------------------------------------
 *
 * esm_runner.c
 *		Event source mapping runners: one dynamic background worker per
 *		enabled mapping and parallelization slot, started and stopped by the
 *		database worker's supervisor task (kg_esm_supervise) through the
 *		shared runner registry; a runner attaches to its registry entry
 *		first and refuses to run when another runner holds its slot.
 *
 * A runner serves one slot: the records whose partition key hashes to it,
 * so records of one key stay in order while the slots of a shard run at
 * once.  For each shard whose parents are finished it runs batches
 * (esm_batch.c: the function is called as the mapping's owner, and the
 * call and the slot's checkpoint commit together).  A slow or failing
 * function only holds up its own mapping; one that ignores the cancel at
 * its timeout is terminated by the supervisor after kinesis_glue.runner_grace.
 *
 * Each batch is claimed by locking the slot's checkpoint row (FOR UPDATE)
 * and reading the position from that locked row, so a batch is applied once
 * even if two runners of one slot ever met.
 *
 * The runner's phases (one function each): setup (attach to its registry
 * entry), and per round load (the mapping), list (the slot's shards), then
 * per shard claim and process (kg_esm_batch: check rights, read, call
 * the function, move the checkpoint), and sleep.  It leaves only between
 * transactions.
 *
 * Locking: the checkpoint row is locked from the claim to the commit of
 * the batch.  The runner holds no lock or snapshot while it sleeps; it waits
 * on the stream's condition variable, which producers broadcast at commit,
 * with the stream's shared entry pinned (kg_stream_prepare_to_wait) from
 * before the round's reads to the end of the sleep; it keeps no other
 * pointer into shared memory across transactions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "common/kg_catalog.h"
#include "common/kg_guc.h"
#include "streams/esm.h"
#include "streams/esm_batch.h"
#include "streams/stream_cache.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

static MemoryContext RunnerLoopContext = NULL;	/* reset every round */

/* ------------------------------------------------------------------------
 * Runner
 * ------------------------------------------------------------------------ */

/* Read the mapping's settings; false when it is gone, disabled or changed. */
static bool
kg_load_mapping(int64 id, int32 generation, KgMapping *m)
{
	KgCatalogContext cc;
	int			n;
	bool		ok = false;

	kg_catalog_enter(&cc, false);
	n = kg_spi_exec("SELECT stream_id, pg_catalog.to_regprocedure(function_name)::oid, owner::oid, batch_size, "
					"(extract(epoch FROM maximum_batching_window) OPERATOR(pg_catalog.*) 1000)::int8, "
					"parallelization_factor, maximum_retry_attempts, "
					"coalesce((extract(epoch FROM maximum_record_age) OPERATOR(pg_catalog.*) 1000000)::int8, 0), "
					"bisect_batch_on_function_error, on_failure_destination, enabled, generation, function_name "
					"FROM kinesis.event_source_mappings WHERE mapping_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL, true);
	if (n == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *dest;

		m->id = id;
		m->stream_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		m->function = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		if (isnull)
			m->function = InvalidOid;
		m->function_name = MemoryContextStrdup(RunnerLoopContext, SPI_getvalue(tup, desc, 13));
		m->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		m->batch_size = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		m->window_ms = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		m->parallel = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
		m->retries = DatumGetInt32(SPI_getbinval(tup, desc, 7, &isnull));
		m->max_age_us = DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
		m->bisect = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
		dest = SPI_getvalue(tup, desc, 10);
		m->destination = dest ? MemoryContextStrdup(RunnerLoopContext, dest) : NULL;
		m->enabled = DatumGetBool(SPI_getbinval(tup, desc, 11, &isnull));
		m->generation = DatumGetInt32(SPI_getbinval(tup, desc, 12, &isnull));
		ok = m->enabled && m->generation == generation;
	}
	kg_catalog_exit(&cc);
	return ok;
}

/*
 * Lock the checkpoint row of (shard, slot) for the rest of the transaction
 * and read the position and attempt count from it.  False when the row is
 * gone or the slot of that shard is finished.
 */
static bool
kg_claim_slot(KgMapping *m, int32 shard_index, int slot, int64 *checkpoint, int *attempts)
{
	KgCatalogContext cc;
	bool		ok = false;

	kg_catalog_enter(&cc, false);
	if (kg_spi_exec("SELECT finished, checkpoint, attempts FROM kinesis.event_source_mapping_shards "
					"WHERE mapping_id OPERATOR(pg_catalog.=) $1 AND shard_index OPERATOR(pg_catalog.=) $2 "
					"AND slot OPERATOR(pg_catalog.=) $3 FOR UPDATE",
					3, (Oid[]) {INT8OID, INT4OID, INT4OID},
					(Datum[]) {Int64GetDatum(m->id), Int32GetDatum(shard_index), Int32GetDatum(slot)},
					NULL, false) == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		ok = !DatumGetBool(SPI_getbinval(tup, desc, 1, &isnull));
		*checkpoint = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		*attempts = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
	}
	kg_catalog_exit(&cc);
	return ok;
}

/* This runner: what it serves and its state across rounds. */
typedef struct KgEsmRunner
{
	int64		mapping_id;
	int32		slot;
	int32		generation;
	KgSlotState *states;		/* per shard, in TopMemoryContext */
	int			nstates;
	MemoryContext loop_cxt;		/* reset every round */
} KgEsmRunner;

/* One checkpoint row of this runner's slot, as listed at a round's start. */
typedef struct KgShardRow
{
	int32		shard_index;
	int64		checkpoint;
	int			attempts;
	bool		all_finished;	/* the shard is finished in every slot */
} KgShardRow;

/* The state of a shard (created at the mapping's batch size). */
static KgSlotState *
kg_slot_state(KgEsmRunner *r, int32 shard_index, int batch_size)
{
	for (int i = 0; i < r->nstates; i++)
		if (r->states[i].shard_index == shard_index)
			return &r->states[i];
	r->states = repalloc(r->states, sizeof(KgSlotState) * (r->nstates + 1));
	r->states[r->nstates].shard_index = shard_index;
	r->states[r->nstates].limit = batch_size;
	r->states[r->nstates].retry_after = 0;
	return &r->states[r->nstates++];
}

/* Start a transaction of the runner, with a snapshot. */
static void
kg_esm_xact_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

/* Commit the runner's transaction; back in the round's memory context. */
static void
kg_esm_xact_end(KgEsmRunner *r)
{
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(r->loop_cxt);
}

/*
 * Phase "setup": attach to the registry entry of this launch (or exit at
 * once: at most one runner per mapping slot) and set up the runner's state.
 */
static void
kg_esm_setup(KgEsmRunner *r)
{
	KgRunnerInfo info;

	kg_runner_start(&info);
	r->mapping_id = info.id;
	r->slot = info.part;
	r->generation = info.generation;
	r->states = MemoryContextAlloc(TopMemoryContext, sizeof(KgSlotState));
	r->nstates = 0;
	r->loop_cxt = AllocSetContextCreate(TopMemoryContext, "kinesis_glue mapping runner", ALLOCSET_DEFAULT_SIZES);
	RunnerLoopContext = r->loop_cxt;
}

/*
 * Phase "load" of a round, in a transaction of its own: read the mapping
 * into *m.  False (the transaction ended) when the mapping is gone,
 * disabled or changed, or its stream is gone: the runner then leaves.
 */
static bool
kg_esm_load(KgEsmRunner *r, KgMapping *m)
{
	bool		ok;

	kg_esm_xact_begin("kinesis_glue: event source mapping");
	ok = kg_load_mapping(r->mapping_id, r->generation, m) &&
		kg_stream_get_by_id(m->stream_id, true) != NULL;
	kg_esm_xact_end(r);
	return ok;
}

/*
 * Phase "list" of a round, in a transaction of its own: make the missing
 * checkpoint rows (shards made by resharding start at their beginning) and
 * list this slot's rows, by shard, into *rows (the round's memory context).
 * Returns how many; -1 when the stream was deleted.
 */
static int
kg_esm_list_shards(KgEsmRunner *r, KgMapping *m, KgShardRow **rows)
{
	KgCatalogContext cc;
	int			n = -1;

	kg_esm_xact_begin("kinesis_glue: event source mapping");
	if (kg_stream_get_by_id(m->stream_id, true) != NULL)
	{
		kg_catalog_enter(&cc, false);
		kg_spi_exec("INSERT INTO kinesis.event_source_mapping_shards (mapping_id, shard_index, slot, checkpoint) "
					"SELECT $1, sh.shard_index, g, sh.starting_sequence_number OPERATOR(pg_catalog.-) 1 "
					"FROM kinesis.shards sh, pg_catalog.generate_series(0, $3 OPERATOR(pg_catalog.-) 1) g "
					"WHERE sh.stream_id OPERATOR(pg_catalog.=) $2 ON CONFLICT DO NOTHING",
					3, (Oid[]) {INT8OID, INT4OID, INT4OID},
					(Datum[]) {Int64GetDatum(m->id), Int32GetDatum(m->stream_id), Int32GetDatum(m->parallel)},
					NULL, false);
		n = kg_spi_exec("SELECT shard_index, checkpoint, attempts, "
						"(SELECT pg_catalog.bool_and(finished) FROM kinesis.event_source_mapping_shards p "
						" WHERE p.mapping_id OPERATOR(pg_catalog.=) e.mapping_id "
						" AND p.shard_index OPERATOR(pg_catalog.=) e.shard_index) "
						"FROM kinesis.event_source_mapping_shards e "
						"WHERE mapping_id OPERATOR(pg_catalog.=) $1 AND slot OPERATOR(pg_catalog.=) $2 "
						"ORDER BY shard_index",
						2, (Oid[]) {INT8OID, INT4OID}, (Datum[]) {Int64GetDatum(m->id), Int32GetDatum(r->slot)},
						NULL, false);
		/* the rows outlive this transaction */
		*rows = MemoryContextAlloc(r->loop_cxt, sizeof(KgShardRow) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;

			(*rows)[i].shard_index = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
			(*rows)[i].checkpoint = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			(*rows)[i].attempts = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
			(*rows)[i].all_finished = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		}
		kg_catalog_exit(&cc);
	}
	kg_esm_xact_end(r);
	return n;
}

/*
 * May shard sh be read now?  Parents first: every parent still listed must
 * be finished in all slots.
 */
static bool
kg_esm_parents_done(KgStream *s, KgShard *sh, KgShardRow *rows, int nrows)
{
	for (int i = 0; i < nrows; i++)
		if ((rows[i].shard_index == sh->parent_index || rows[i].shard_index == sh->adjacent_parent_index) &&
			kg_stream_find_shard(s, rows[i].shard_index) != NULL && !rows[i].all_finished)
			return false;
	return true;
}

/*
 * Phase "claim and process" of one shard, in a transaction of its own:
 * unless the shard is gone, waits for a parent, or waits out a retry, lock
 * the slot's checkpoint row, take the position and attempts from the
 * locked row, read with a snapshot taken after the lock, and run one batch
 * (kg_esm_batch: call the function, move the checkpoint), which commits
 * with the transaction.  *sleep_ms is lowered to when this shard wants to
 * be looked at again.
 */
static KgBatchOutcome
kg_esm_shard(KgEsmRunner *r, KgMapping *m, KgShardRow *rows, int nrows, int i, int64 *sleep_ms)
{
	KgStream   *s;
	KgShard    *sh;
	KgSlotState *ss;
	int64		checkpoint;
	int			attempts;
	int64		defer_ms = 0;
	KgBatchOutcome outcome = KG_BATCH_IDLE;

	kg_esm_xact_begin("kinesis_glue: event source mapping");
	s = kg_stream_get_by_id(m->stream_id, true);
	sh = s ? kg_stream_find_shard(s, rows[i].shard_index) : NULL;
	ss = kg_slot_state(r, rows[i].shard_index, m->batch_size);
	if (sh == NULL || !kg_esm_parents_done(s, sh, rows, nrows) || GetCurrentTimestamp() < ss->retry_after)
		outcome = ss->retry_after > 0 ? KG_BATCH_RETRY : KG_BATCH_IDLE;
	else if (kg_claim_slot(m, rows[i].shard_index, r->slot, &checkpoint, &attempts))
	{
		PopActiveSnapshot();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "kinesis_glue: event source mapping batch");
		outcome = kg_esm_batch(m, s, sh, r->slot, checkpoint, attempts, ss, &defer_ms);
	}
	kg_esm_xact_end(r);
	if (outcome == KG_BATCH_DEFERRED)
		*sleep_ms = Min(*sleep_ms, Max(defer_ms, 1));
	else if (outcome == KG_BATCH_RETRY)
		*sleep_ms = Min(*sleep_ms, Max(1, (ss->retry_after - GetCurrentTimestamp()) / 1000));
	return outcome;
}

/*
 * Runner entry point: bgw_extra holds its KgRunnerInfo (mapping id, slot,
 * generation).  Each round: load the mapping, arm the wakeup, list the
 * slot's shards, process each, and sleep on the stream's condition
 * variable unless a batch made progress.  Exits, never inside a
 * transaction, when the mapping is gone, disabled or changed, or its stream
 * is deleted (the supervisor starts a new runner when one is wanted).
 */
void
kg_esm_runner_main(Datum main_arg)
{
	KgEsmRunner r;

	kg_esm_setup(&r);
	for (;;)
	{
		KgMapping	m;
		KgShardRow *rows = NULL;
		int			nrows;
		bool		progress = false;
		int64		sleep_ms = kg_worker_naptime_ms;
		ConditionVariable *cv;

		kg_loop_interrupts();
		MemoryContextReset(r.loop_cxt);
		MemoryContextSwitchTo(r.loop_cxt);
		if (!kg_esm_load(&r, &m))
			proc_exit(0);

		/*
		 * Arm the wakeup before looking, so a commit in between is not lost.
		 * The stream's shared entry stays pinned until kg_stream_end_wait
		 * (a deletion broadcasts, ending the sleep, and frees the entry
		 * only after the pin is gone); nothing else of the shared hash is
		 * kept across transactions.
		 */
		cv = kg_stream_prepare_to_wait(m.stream_id);
		if (cv == NULL)
			proc_exit(0);		/* the stream is being deleted */
		nrows = kg_esm_list_shards(&r, &m, &rows);
		if (nrows < 0)
			proc_exit(0);		/* the stream was deleted */
		for (int i = 0; i < nrows; i++)
		{
			if (kg_esm_shard(&r, &m, rows, nrows, i, &sleep_ms) == KG_BATCH_DONE)
				progress = true;
			CHECK_FOR_INTERRUPTS();
		}
		pgstat_report_activity(STATE_IDLE, NULL);
		if (!progress)
			(void) ConditionVariableTimedSleep(cv, sleep_ms, PG_WAIT_EXTENSION);
		kg_stream_end_wait();
	}
}
