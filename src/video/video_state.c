/*-------------------------------------------------------------------------
 *
 * video_state.c
 *		Waking live get_media readers when a put commits, the per-stream
 *		put lock, the guard against direct DML on fragment tables, and small
 *		SQL helpers of the video component.
 *
 * Live readers: shared memory holds KG_VIDEO_WAIT_SLOTS slots, each a
 * commit counter and a condition variable; a video stream maps to the slot
 * hash(database, stream) modulo the slot count (streams may share a slot:
 * a reader then wakes for nothing and looks again).  A backend that put
 * fragments remembers their slots; its commit callback, which runs after
 * ProcArrayEndTransaction, bumps each slot's counter and broadcasts.  A
 * reader reads the counter *before* it scans (with a fresh snapshot), and
 * sleeps only while the counter has not moved, so no commit is missed.
 *
 * Locking: the slot counters are atomics; the condition variables have
 * their own spinlocks.  The stream lock is a heavyweight object lock on
 * (kinesis_video.streams, stream_id), taken by puts and delete_stream and
 * held to the end of the transaction.  A transaction that put fragments
 * cannot be prepared (it would keep the stream locked).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/lmgr.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "common/kg_errors.h"
#include "common/kg_guc.h"
#include "common/kg_shmem.h"
#include "video/video.h"

#define KG_VIDEO_WAIT_SLOTS 128

typedef struct KgVideoWaitSlot
{
	pg_atomic_uint64 commits;	/* commits of puts to the slot's streams */
	ConditionVariable cv;		/* broadcast after each such commit */
} KgVideoWaitSlot;

static KgVideoWaitSlot *VideoSlots = NULL;

/* slots this transaction put fragments to (bit i = slot i) */
static uint64 pending_slots[KG_VIDEO_WAIT_SLOTS / 64];
static bool pending_any = false;
static bool pending_wake = false;	/* a stream written has a running processor */

/* > 0 while video_put.c inserts a fragment: the DML guard lets it pass */
int			kg_video_put_depth = 0;

/* Shared memory needed by the wait slots. */
Size
kg_video_shmem_size(void)
{
	return mul_size(KG_VIDEO_WAIT_SLOTS, sizeof(KgVideoWaitSlot));
}

/* Attach to (and on first use initialise) the wait slots.  Caller holds AddinShmemInitLock. */
void
kg_video_shmem_init(void)
{
	bool		found;

	VideoSlots = ShmemInitStruct("kinesis_glue video wait slots", kg_video_shmem_size(), &found);
	if (!found)
		for (int i = 0; i < KG_VIDEO_WAIT_SLOTS; i++)
		{
			pg_atomic_init_u64(&VideoSlots[i].commits, 0);
			ConditionVariableInit(&VideoSlots[i].cv);
		}
}

static int
kg_video_slot_of(int32 stream_id)
{
	return (int) (hash_combine(hash_uint32((uint32) MyDatabaseId),
							   hash_uint32((uint32) stream_id)) % KG_VIDEO_WAIT_SLOTS);
}

static KgVideoWaitSlot *
kg_video_slot(int32 stream_id)
{
	kg_require_shmem();
	return &VideoSlots[kg_video_slot_of(stream_id)];
}

/*
 * Remember that this transaction put a fragment to the stream, and whether
 * the worker must be woken at commit for a running stream processor of it.
 */
void
kg_video_note_put(int32 stream_id, bool wake_worker)
{
	int			i = kg_video_slot_of(stream_id);

	pending_slots[i / 64] |= UINT64CONST(1) << (i % 64);
	pending_any = true;
	pending_wake |= wake_worker;
}

/*
 * Transaction callback: after a commit (already visible to new snapshots),
 * bump and broadcast the slots of the streams written, and wake the
 * worker when one of them has a running stream processor (a round of the
 * worker costs about as much CPU as a tenth of a 1 MB put, so a put to a
 * stream without processors does not ask for one); forget them after an
 * abort.
 */
static void
kg_video_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (pending_any)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that put media fragments"),
						 errdetail("A prepared transaction would keep the video stream locked for other producers."),
						 errhint("Commit the put_media transaction directly.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (pending_any && VideoSlots != NULL)
			{
				for (int i = 0; i < KG_VIDEO_WAIT_SLOTS; i++)
					if (pending_slots[i / 64] & (UINT64CONST(1) << (i % 64)))
					{
						pg_atomic_fetch_add_u64(&VideoSlots[i].commits, 1);
						ConditionVariableBroadcast(&VideoSlots[i].cv);
					}
				if (pending_wake)
					kg_wake_worker(MyDatabaseId);
			}
			/* FALLTHROUGH */
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			memset(pending_slots, 0, sizeof(pending_slots));
			pending_any = false;
			pending_wake = false;
			kg_video_put_depth = 0;
			break;
		default:
			break;
	}
}

/* Register the transaction callback; called from _PG_init. */
void
kg_video_init_backend(void)
{
	RegisterXactCallback(kg_video_xact_callback, NULL);
}

/* OID of kinesis_video.streams (the class of the stream locks). */
Oid
kg_video_streams_relid(void)
{
	return get_relname_relid("streams", get_namespace_oid("kinesis_video", false));
}

/*
 * Take the stream's put lock, held to the end of the transaction.  Puts
 * serialise on it (KVS allows one PutMedia connection per stream), which
 * is what makes fragment numbers commit in increasing order.
 */
void
kg_video_lock_stream(int32 stream_id)
{
	LockDatabaseObject(kg_video_streams_relid(), (Oid) stream_id, 0, ExclusiveLock);
}

PG_FUNCTION_INFO_V1(kg_video_commit_count);

/* kinesis_video._commit_count(stream_id): the stream's slot counter. */
Datum
kg_video_commit_count(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) pg_atomic_read_u64(&kg_video_slot(PG_GETARG_INT32(0))->commits));
}

PG_FUNCTION_INFO_V1(kg_video_wait_for_commit);

/*
 * kinesis_video._wait_for_commit(stream_id, seen, timeout_ms): sleep until
 * the stream's slot counter differs from seen (a put to the stream, or to
 * a stream sharing its slot, committed) or timeout_ms passed.  Returns the
 * counter.  Holds no lock while sleeping; cancellable.
 */
Datum
kg_video_wait_for_commit(PG_FUNCTION_ARGS)
{
	KgVideoWaitSlot *slot = kg_video_slot(PG_GETARG_INT32(0));
	uint64		seen = (uint64) PG_GETARG_INT64(1);
	int32		timeout_ms = PG_GETARG_INT32(2);
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	uint64		now_count;

	ConditionVariablePrepareToSleep(&slot->cv);
	while ((now_count = pg_atomic_read_u64(&slot->commits)) == seen)
	{
		long		remaining = (long) ((deadline - GetCurrentTimestamp()) / 1000);

		if (remaining <= 0)
			break;
		(void) ConditionVariableTimedSleep(&slot->cv, remaining, PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
	}
	ConditionVariableCancelSleep();
	PG_RETURN_INT64((int64) now_count);
}

PG_FUNCTION_INFO_V1(kg_video_retention_now);

/*
 * kinesis_video._retention_now(): the clock retention is measured with
 * (now, moved by the kinesis_glue.retention_clock_offset testing aid).
 */
Datum
kg_video_retention_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(KG_RETENTION_NOW());
}

PG_FUNCTION_INFO_V1(kg_video_wake_worker);

/* kinesis_video._wake_worker(): ask this database's worker for a round now. */
Datum
kg_video_wake_worker(PG_FUNCTION_ARGS)
{
	kg_require_shmem();
	kg_wake_worker(MyDatabaseId);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(kg_video_forbid_direct_dml);

/*
 * Trigger on every fragment table: refuses INSERT, UPDATE, DELETE and
 * TRUNCATE except the INSERT of put_media itself (video_put.c), so
 * fragment numbers, timestamps and limits cannot be bypassed.
 */
Datum
kg_video_forbid_direct_dml(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "kinesis_video._forbid_direct_dml called outside a trigger");
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event) && TRIGGER_FIRED_FOR_ROW(td->tg_event) &&
		kg_video_put_depth > 0)
		return PointerGetDatum(td->tg_trigtuple);
	ereport(ERROR,
			(errcode(KG_ACCESS_DENIED),
			 errmsg("NotAuthorizedException: fragments of a video stream cannot be changed with %s",
					TRIGGER_FIRED_BY_INSERT(td->tg_event) ? "INSERT" :
					TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? "UPDATE" :
					TRIGGER_FIRED_BY_DELETE(td->tg_event) ? "DELETE" : "TRUNCATE"),
			 errhint("Use kinesis_video.put_media; fragments expire with the data retention.")));
	PG_RETURN_NULL();
}
