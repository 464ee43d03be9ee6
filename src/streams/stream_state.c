/*-------------------------------------------------------------------------
 *
 * stream_state.c
 *		Shared-memory stream counters, in-flight producer marks and the
 *		last stable sequence; the transaction callbacks that clear marks,
 *		refuse PREPARE, end reshard reservations (reshard_limit.c) and
 *		publish metadata changes at commit.
 *
 * See stream_state.h for the protocol.  In short: taking counters and
 * publishing the in-flight mark happen under the stream's spinlock; the
 * mark is cleared at commit or abort (after ProcArrayEndTransaction); the
 * stable bound is the lowest counter still held by an open transaction, or
 * the next counter when none is.  A reader that reads the bound and then
 * takes a snapshot sees every record below the bound in its final state.
 * The marks exist on the primary only; a hot standby reads up to the bound
 * the primary's worker publishes in WAL (standby.c).
 *
 * Locking: KgStreamsLock for the hash layout; each entry's mutex
 * for its fields.  An entry of a deleted stream is freed only when no
 * producer mark and no sleeping runner's pin (kg_stream_prepare_to_wait)
 * holds it.  Producer slots: written by their own backend only;
 * read without lock by readers, with barriers (see kg_stream_stable_bound).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "common/kg_errors.h"
#include "streams/streams.h"
#include "common/kg_shmem.h"
#include "streams/standby.h"
#include "streams/stream_state.h"
#include "streams/stream_cache.h"
#include "streams/throughput.h"

typedef struct KgProducerMark
{
	KgStreamState *volatile stream; /* NULL: unused */
	volatile int64 min_counter;
} KgProducerMark;

typedef struct KgProducerSlot
{
	volatile int nmarks;
	volatile TimestampTz xact_start;
	KgProducerMark marks[KG_MAX_STREAMS_PER_XACT];
} KgProducerSlot;

LWLock	   *KgStreamsLock = NULL;
static HTAB *StreamHash = NULL;
static KgProducerSlot *ProducerSlots = NULL;
static int	NumProducerSlots = 0;

/* Metadata changes of this transaction, published at commit. */
typedef struct KgPendingChange
{
	int32		stream_id;
	bool		dropped;
	SubTransactionId subid;
} KgPendingChange;

static List *pending_changes = NIL;

static int
kg_num_producer_slots(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts;
}

Size
kg_stream_state_shmem_size(void)
{
	Size		size;

	size = hash_estimate_size(kg_max_streams, sizeof(KgStreamState));
	size = add_size(size, mul_size(kg_num_producer_slots(), sizeof(KgProducerSlot)));
	return size;
}

/* Attach to or create the stream hash and producer slots.  Caller holds AddinShmemInitLock. */
void
kg_stream_state_shmem_init(void)
{
	HASHCTL		info;
	bool		found;

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(KgStreamKey);
	info.entrysize = sizeof(KgStreamState);
	KgStreamsLock = &(GetNamedLWLockTranche(KG_STREAMS_SHMEM))[0].lock;
	StreamHash = ShmemInitHash("kinesis_glue streams", kg_max_streams,
							   kg_max_streams, &info, HASH_ELEM | HASH_BLOBS);
	NumProducerSlots = kg_num_producer_slots();
	ProducerSlots = ShmemInitStruct("kinesis_glue producers",
									mul_size(NumProducerSlots, sizeof(KgProducerSlot)),
									&found);
	if (!found)
		memset(ProducerSlots, 0, mul_size(NumProducerSlots, sizeof(KgProducerSlot)));
}

static KgProducerSlot *
kg_my_producer_slot(void)
{
	Assert(MyProc != NULL && MyProc->pgprocno < NumProducerSlots);
	return &ProducerSlots[MyProc->pgprocno];
}

/*
 * Find (or create) the shared state of a stream of this database.  A new
 * entry is not "loaded": its counter must be restored from the tables
 * before the first put (kg_stream_state_restore).
 */
KgStreamState *
kg_stream_state_attach(int32 stream_id)
{
	KgStreamKey key;
	KgStreamState *st;
	bool		found;

	kg_require_shmem();
	memset(&key, 0, sizeof(key));
	key.dboid = MyDatabaseId;
	key.stream_id = stream_id;

	LWLockAcquire(KgStreamsLock, LW_SHARED);
	st = hash_search(StreamHash, &key, HASH_FIND, NULL);
	LWLockRelease(KgStreamsLock);
	if (st)
		return st;

	LWLockAcquire(KgStreamsLock, LW_EXCLUSIVE);
	st = hash_search(StreamHash, &key, HASH_ENTER_NULL, &found);
	if (st && !found)
	{
		SpinLockInit(&st->mutex);
		st->loaded = false;
		st->dropped = false;
		st->version = 1;
		st->next_counter = 0;
		st->n_inflight = 0;
		st->n_waiters = 0;
		st->reshard_limit = 0;
		ConditionVariableInit(&st->commit_cv);
		pg_atomic_init_u64(&st->puts, 0);
	}
	LWLockRelease(KgStreamsLock);
	if (st == NULL)
		ereport(ERROR,
				(errcode(KG_LIMIT_EXCEEDED),
				 errmsg("LimitExceededException: too many data streams are in use"),
				 errhint("Raise \"kinesis_glue.max_streams\" and restart the server.")));
	return st;
}

/*
 * Restore the counter after a restart: the first backend to get here sets
 * it to at least min_next_counter (one above every sequence number found in
 * the tables) and marks the entry loaded.  Later calls change nothing.
 */
void
kg_stream_state_restore(KgStreamState *st, int64 min_next_counter)
{
	SpinLockAcquire(&st->mutex);
	if (!st->loaded)
	{
		if (st->next_counter < min_next_counter)
			st->next_counter = min_next_counter;
		st->loaded = true;
	}
	SpinLockRelease(&st->mutex);
}

/*
 * Take n consecutive counters for the current transaction and publish its
 * in-flight mark, atomically as seen by readers.  Returns false (taking
 * nothing) when the caller's metadata version is stale, the stream was
 * dropped or is not loaded: the caller reloads and retries.
 */
KgTakeResult
kg_stream_state_take(KgStreamState *st, uint32 version, int n, int64 *first_counter)
{
	KgProducerSlot *slot = kg_my_producer_slot();
	int			mark = -1;
	bool		ok = false;
	bool		must_wait = false;
	bool		overflow = false;

	for (int i = 0; i < slot->nmarks; i++)
		if (slot->marks[i].stream == st)
			mark = i;
	if (mark < 0 && slot->nmarks >= KG_MAX_STREAMS_PER_XACT)
		ereport(ERROR,
				(errcode(KG_LIMIT_EXCEEDED),
				 errmsg("LimitExceededException: a transaction can put records to at most %d data streams",
						KG_MAX_STREAMS_PER_XACT),
				 errhint("Split the work into several transactions.")));

	SpinLockAcquire(&st->mutex);
	if (st->loaded && !st->dropped && st->version == version)
	{
		if (st->next_counter + n > KG_MAX_COUNTER)
			overflow = true;
		else if (st->reshard_limit > 0 && st->next_counter + n > st->reshard_limit)
			must_wait = true;
		else
		{
			*first_counter = st->next_counter;
			st->next_counter += n;
			if (mark < 0)
			{
				int			i = slot->nmarks;

				slot->marks[i].min_counter = *first_counter;
				pg_write_barrier();
				slot->marks[i].stream = st;
				if (i == 0)
					slot->xact_start = GetCurrentTransactionStartTimestamp();
				slot->nmarks = i + 1;
				st->n_inflight++;
			}
			ok = true;
		}
	}
	SpinLockRelease(&st->mutex);

	if (overflow)
		ereport(ERROR,
				(errcode(KG_LIMIT_EXCEEDED),
				 errmsg("LimitExceededException: the data stream has used up its sequence numbers"),
				 errhint("Create a new stream.")));
	if (must_wait)
		return KG_TAKE_WAIT;
	if (!ok)
		return KG_TAKE_STALE;
	pg_atomic_add_fetch_u64(&st->puts, n);
	return KG_TAKE_OK;
}


/* The next counter, read under the mutex. */
int64
kg_stream_peek_counter(KgStreamState *st)
{
	int64		c;

	SpinLockAcquire(&st->mutex);
	c = st->next_counter;
	SpinLockRelease(&st->mutex);
	return c;
}

/*
 * Move the counter forward to new_counter if it is still below it and not
 * above expected_max (used by the worker to close a segment early).  Gaps
 * are allowed; going back never happens.
 */
bool
kg_stream_advance_counter(KgStreamState *st, int64 expected_max, int64 new_counter)
{
	bool		moved = false;

	SpinLockAcquire(&st->mutex);
	if (st->loaded && st->next_counter <= expected_max && st->next_counter < new_counter)
	{
		st->next_counter = new_counter;
		moved = true;
	}
	SpinLockRelease(&st->mutex);
	return moved;
}

/*
 * The stable bound of a stream: every record whose counter is below it
 * belongs to a transaction that has ended.  Take the snapshot for reading
 * after calling this.  The last stable sequence is KG_SEQ(bound, 0) - 1.
 * On a hot standby: the newest bound replayed from the primary (standby.c).
 */
int64
kg_stream_stable_bound(KgStreamState *st)
{
	int64		bound;
	int32		n;

	if (RecoveryInProgress())
		return kg_published_bound(st->key.stream_id, NULL);
	SpinLockAcquire(&st->mutex);
	bound = st->next_counter;
	n = st->n_inflight;
	SpinLockRelease(&st->mutex);
	if (n == 0)
		return bound;

	/*
	 * Marks below 'bound' were published before we took the mutex; marks
	 * published later are at or above it.  A mark that vanishes meanwhile
	 * belongs to a transaction that has ended, which is what we need.
	 */
	for (int p = 0; p < NumProducerSlots; p++)
	{
		KgProducerSlot *slot = &ProducerSlots[p];
		int			nmarks = slot->nmarks;

		pg_read_barrier();
		for (int i = 0; i < nmarks && i < KG_MAX_STREAMS_PER_XACT; i++)
		{
			if (slot->marks[i].stream == st)
			{
				int64		m;

				pg_read_barrier();
				m = slot->marks[i].min_counter;
				if (m < bound)
					bound = m;
			}
		}
	}
	return bound;
}

/* Fill *out for the stability view; false when the stream has no state yet. */
bool
kg_stream_stability(int32 stream_id, KgStreamStability *out)
{
	KgStreamKey key;
	KgStreamState *st;

	kg_require_shmem();
	memset(&key, 0, sizeof(key));
	key.dboid = MyDatabaseId;
	key.stream_id = stream_id;
	LWLockAcquire(KgStreamsLock, LW_SHARED);
	st = hash_search(StreamHash, &key, HASH_FIND, NULL);
	LWLockRelease(KgStreamsLock);
	if (st == NULL)
		return false;

	memset(out, 0, sizeof(*out));
	SpinLockAcquire(&st->mutex);
	out->next_counter = st->next_counter;
	out->loaded = st->loaded;
	SpinLockRelease(&st->mutex);
	out->stable_bound = kg_stream_stable_bound(st);
	for (int p = 0; p < NumProducerSlots; p++)
	{
		KgProducerSlot *slot = &ProducerSlots[p];
		int			nmarks = slot->nmarks;

		pg_read_barrier();
		for (int i = 0; i < nmarks && i < KG_MAX_STREAMS_PER_XACT; i++)
			if (slot->marks[i].stream == st)
			{
				TimestampTz ts = slot->xact_start;

				out->open_producers++;
				if (out->oldest_producer_start == 0 || ts < out->oldest_producer_start)
					out->oldest_producer_start = ts;
			}
	}
	return true;
}

/* Does the current transaction hold in-flight marks? */
bool
kg_xact_has_puts(void)
{
	return ProducerSlots != NULL && MyProc != NULL && kg_my_producer_slot()->nmarks > 0;
}

/*
 * Is st a deleted stream's entry that nobody uses any more (no producer
 * marks, no pinned waiter)?  Caller holds st->mutex.
 */
static inline bool
kg_stream_unused(KgStreamState *st)
{
	return st->dropped && st->n_inflight == 0 && st->n_waiters == 0;
}

/*
 * Free the entry of key if it is (still) unused, after its last user let
 * go.  Takes KgStreamsLock exclusively.
 */
static void
kg_stream_free(KgStreamKey key)
{
	KgStreamState *st;
	bool		remove = false;

	LWLockAcquire(KgStreamsLock, LW_EXCLUSIVE);
	st = hash_search(StreamHash, &key, HASH_FIND, NULL);
	if (st)
	{
		SpinLockAcquire(&st->mutex);
		remove = kg_stream_unused(st);
		SpinLockRelease(&st->mutex);
	}
	if (remove)
		hash_search(StreamHash, &key, HASH_REMOVE, NULL);
	LWLockRelease(KgStreamsLock);
}

/* Clear all marks of this backend and wake readers waiting on those streams. */
static void
kg_clear_marks(void)
{
	KgProducerSlot *slot;
	int			n;

	if (ProducerSlots == NULL || MyProc == NULL)
		return;
	slot = kg_my_producer_slot();
	n = slot->nmarks;
	for (int i = 0; i < n; i++)
	{
		KgStreamState *st = slot->marks[i].stream;
		bool		remove;

		if (st == NULL)
			continue;

		SpinLockAcquire(&st->mutex);
		slot->marks[i].stream = NULL;
		st->n_inflight--;
		remove = kg_stream_unused(st);
		SpinLockRelease(&st->mutex);
		ConditionVariableBroadcast(&st->commit_cv);
		if (remove)
			kg_stream_free(st->key);	/* last producer of a deleted stream */
	}
	slot->nmarks = 0;
}

/*
 * Record a metadata change of a stream (reshard, retention, delete) to be
 * published at commit: bump its version so every backend reloads its cache;
 * when dropped, mark the entry dropped and remove it.
 */
void
kg_stream_changed_at_commit(int32 stream_id, bool dropped)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	KgPendingChange *c = palloc(sizeof(KgPendingChange));

	c->stream_id = stream_id;
	c->dropped = dropped;
	c->subid = GetCurrentSubTransactionId();
	pending_changes = lappend(pending_changes, c);
	MemoryContextSwitchTo(old);
}

/*
 * Has the current transaction changed the metadata of a stream (reshard,
 * mode, retention, quotas)?  Its own reads must then see the catalog as it
 * left it, not the committed layout in the caches.
 */
bool
kg_stream_changed_in_xact(int32 stream_id)
{
	ListCell   *lc;

	foreach(lc, pending_changes)
		if (((KgPendingChange *) lfirst(lc))->stream_id == stream_id)
			return true;
	return false;
}

/* the entry this backend pinned to sleep on (kg_stream_prepare_to_wait) */
static KgStreamState *wait_pinned = NULL;
static bool wait_exit_armed = false;

/* before_shmem_exit: let go of a pinned entry (a runner that dies asleep). */
static void
kg_stream_wait_at_exit(int code, Datum arg)
{
	kg_stream_end_wait();
}

/*
 * Prepare to wait for the next commit of a put to a stream of this
 * database: pin its entry and register the sleep on its condition
 * variable, which the caller then sleeps on (ConditionVariableTimedSleep on
 * the result, across transactions if it likes) and ends with
 * kg_stream_end_wait().  NULL when the stream is gone or being deleted.
 * The entry is looked up, pinned and the sleep registered under
 * KgStreamsLock.  A deletion broadcasts the condition variable (ending the
 * sleep) and frees the entry only once the last pin is gone, so the
 * pointer returned stays valid until kg_stream_end_wait(), which also runs
 * at process exit.  One pin per backend: a second call ends the first wait.
 */
ConditionVariable *
kg_stream_prepare_to_wait(int32 stream_id)
{
	KgStreamKey key;
	KgStreamState *st;
	ConditionVariable *cv = NULL;

	kg_require_shmem();
	kg_stream_end_wait();
	if (!wait_exit_armed)
	{
		before_shmem_exit(kg_stream_wait_at_exit, (Datum) 0);
		wait_exit_armed = true;
	}
	memset(&key, 0, sizeof(key));
	key.dboid = MyDatabaseId;
	key.stream_id = stream_id;
	LWLockAcquire(KgStreamsLock, LW_SHARED);
	st = hash_search(StreamHash, &key, HASH_FIND, NULL);
	if (st != NULL)
	{
		bool		dropped;

		SpinLockAcquire(&st->mutex);
		dropped = st->dropped;
		if (!dropped)
			st->n_waiters++;
		SpinLockRelease(&st->mutex);
		if (!dropped)
		{
			wait_pinned = st;
			cv = &st->commit_cv;
			ConditionVariablePrepareToSleep(cv);
		}
	}
	LWLockRelease(KgStreamsLock);
	return cv;
}

/*
 * End the wait kg_stream_prepare_to_wait() began: cancel the sleep and
 * unpin the entry, freeing it when its stream was deleted meanwhile and
 * nobody else uses it.  A no-op without a pin.
 */
void
kg_stream_end_wait(void)
{
	KgStreamState *st = wait_pinned;
	KgStreamKey key;
	bool		remove;

	if (st == NULL)
		return;
	ConditionVariableCancelSleep();
	wait_pinned = NULL;
	SpinLockAcquire(&st->mutex);
	st->n_waiters--;
	remove = kg_stream_unused(st);
	key = st->key;
	SpinLockRelease(&st->mutex);
	if (remove)
		kg_stream_free(key);
}

static void
kg_publish_changes(void)
{
	ListCell   *lc;

	foreach(lc, pending_changes)
	{
		KgPendingChange *c = lfirst(lc);
		KgStreamKey key;
		KgStreamState *st;

		memset(&key, 0, sizeof(key));
		key.dboid = MyDatabaseId;
		key.stream_id = c->stream_id;
		LWLockAcquire(KgStreamsLock, LW_EXCLUSIVE);
		st = hash_search(StreamHash, &key, HASH_FIND, NULL);
		if (st)
		{
			bool		remove;

			SpinLockAcquire(&st->mutex);
			st->version++;
			if (c->dropped)
				st->dropped = true;
			remove = kg_stream_unused(st);
			SpinLockRelease(&st->mutex);
			ConditionVariableBroadcast(&st->commit_cv);
			if (remove)
				hash_search(StreamHash, &key, HASH_REMOVE, NULL);
		}
		LWLockRelease(KgStreamsLock);
		if (c->dropped)
			kg_meter_forget_stream(MyDatabaseId, c->stream_id);
	}
}

static void
kg_stream_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (kg_xact_has_puts())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has put records to a data stream"),
						 errdetail("Readers would wait for the prepared transaction for an unbounded time."),
						 errhint("Commit the transaction that puts records, or put them outside the two-phase transaction.")));
			if (pending_changes != NIL || kg_reshards_pending())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has changed a data stream")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (KgShared == NULL)
				break;
			kg_clear_marks();
			if (kg_reshards_pending())
				kg_end_reshards(true);
			if (pending_changes != NIL)
				kg_publish_changes();
			pending_changes = NIL;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (KgShared == NULL)
				break;
			kg_clear_marks();
			if (kg_reshards_pending())
				kg_end_reshards(false);
			/* rolled-back metadata changes may sit in this backend's cache */
			if (pending_changes != NIL)
				kg_stream_cache_reset();
			pending_changes = NIL;
			break;
		default:
			break;
	}
}

static void
kg_stream_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (kg_reshards_pending() && (event == SUBXACT_EVENT_ABORT_SUB || event == SUBXACT_EVENT_COMMIT_SUB))
		kg_end_subxact_reshards(mySubid, parentSubid, event == SUBXACT_EVENT_COMMIT_SUB);
	if (pending_changes == NIL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, pending_changes)
		{
			KgPendingChange *c = lfirst(lc);

			if (c->subid == mySubid)
			{
				pending_changes = foreach_delete_current(pending_changes, lc);
				kg_stream_cache_reset();
			}
		}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, pending_changes)
		{
			KgPendingChange *c = lfirst(lc);

			if (c->subid == mySubid)
				c->subid = parentSubid;
		}
	}
}

/* Register the transaction callbacks in this backend (from _PG_init). */
void
kg_streams_init_backend(void)
{
	RegisterXactCallback(kg_stream_xact_callback, NULL);
	RegisterSubXactCallback(kg_stream_subxact_callback, NULL);
}
