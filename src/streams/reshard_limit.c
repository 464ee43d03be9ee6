/*-------------------------------------------------------------------------
 *
 * reshard_limit.c
 *		Reshard reservations: a transaction that reshards a stream reserves
 *		the first counter of the new shards (the stream's reshard_limit),
 *		puts routed with the old layout stay below it, and the reservation
 *		ends with the transaction (stream_state.c's callbacks call
 *		kg_end_reshards and kg_end_subxact_reshards).
 *
 * Locking: the stream entry's mutex for reshard_limit and next_counter;
 * the list of this transaction's reservations is backend-local.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "pgstat.h"
#include "utils/memutils.h"

#include "common/kg_errors.h"
#include "streams/stream_state.h"

/* Streams whose reshard_limit this transaction set, with the subtransaction. */
typedef struct KgReshardLimit
{
	KgStreamState *st;
	SubTransactionId subid;
} KgReshardLimit;

static List *reshard_limits = NIL;

static bool
kg_reshard_limit_mine(KgStreamState *st)
{
	ListCell   *lc;

	foreach(lc, reshard_limits)
		if (((KgReshardLimit *) lfirst(lc))->st == st)
			return true;
	return false;
}

/*
 * Start a reshard of a stream in this transaction: the counter of the new
 * shards is reserved 'reserve' counters ahead, and puts routed with the
 * old layout (until this transaction commits) must stay below it; at least
 * min_limit (kinesis.open_shards: above another server's numbers).  Returns
 * the first counter of the new shards.  Repeated calls in one transaction
 * return the same value unless min_limit raises it.
 */
int64
kg_stream_begin_reshard(KgStreamState *st, int64 reserve, int64 min_limit)
{
	int64		limit;
	bool		mine = kg_reshard_limit_mine(st);

	SpinLockAcquire(&st->mutex);
	if (!mine && st->reshard_limit == 0)
		st->reshard_limit = st->next_counter + reserve;
	if (st->reshard_limit < min_limit)
		st->reshard_limit = min_limit;
	limit = st->reshard_limit;
	SpinLockRelease(&st->mutex);
	if (!mine)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		KgReshardLimit *l = palloc(sizeof(KgReshardLimit));

		l->st = st;
		l->subid = GetCurrentSubTransactionId();
		reshard_limits = lappend(reshard_limits, l);
		MemoryContextSwitchTo(old);
	}
	return limit;
}

/* Sleep until the reshard that blocks puts of st has ended. */
void
kg_stream_wait_reshard(KgStreamState *st)
{
	if (kg_reshard_limit_mine(st))
		ereport(ERROR,
				(errcode(KG_LIMIT_EXCEEDED),
				 errmsg("LimitExceededException: this transaction resharded the stream and cannot put more records to it before it commits")));
	ConditionVariablePrepareToSleep(&st->commit_cv);
	for (;;)
	{
		bool		busy;

		SpinLockAcquire(&st->mutex);
		busy = st->reshard_limit > 0;
		SpinLockRelease(&st->mutex);
		if (!busy)
			break;
		ConditionVariableTimedSleep(&st->commit_cv, 100, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

/* End this transaction's reshards: at commit the counter moves to the new shards' start. */
void
kg_end_reshards(bool commit)
{
	ListCell   *lc;

	foreach(lc, reshard_limits)
	{
		KgStreamState *st = ((KgReshardLimit *) lfirst(lc))->st;

		SpinLockAcquire(&st->mutex);
		if (commit && st->next_counter < st->reshard_limit)
			st->next_counter = st->reshard_limit;
		if (commit)
			st->version++;		/* with the limit, atomically: no old-layout put above it */
		st->reshard_limit = 0;
		SpinLockRelease(&st->mutex);
		ConditionVariableBroadcast(&st->commit_cv);
	}
	list_free_deep(reshard_limits);
	reshard_limits = NIL;
}

/*
 * A subtransaction that reserved a reshard counter aborted: its catalog
 * changes are gone, so the reservation goes too (another session may then
 * reshard; keeping it would let that session's commit be undone by ours).
 */
void
kg_end_subxact_reshards(SubTransactionId mySubid, SubTransactionId parentSubid, bool commit)
{
	ListCell   *lc;

	foreach(lc, reshard_limits)
	{
		KgReshardLimit *l = lfirst(lc);

		if (l->subid != mySubid)
			continue;
		if (commit)
		{
			l->subid = parentSubid;
			continue;
		}
		SpinLockAcquire(&l->st->mutex);
		l->st->reshard_limit = 0;
		SpinLockRelease(&l->st->mutex);
		ConditionVariableBroadcast(&l->st->commit_cv);
		reshard_limits = foreach_delete_current(reshard_limits, lc);
		pfree(l);
	}
}

/* Has this transaction reserved a reshard counter of any stream? */
bool
kg_reshards_pending(void)
{
	return reshard_limits != NIL;
}
