/*-------------------------------------------------------------------------
 *
 * stream_state.h
 *		Shared-memory hot state of data streams: sequence counters,
 *		in-flight producer marks and the last stable sequence (LSS).
 *
 * Sequence numbers are (counter << KG_SHARD_BITS) | shard_index, with one
 * counter per stream.  A producer takes counters and publishes its
 * in-flight mark (the lowest counter its transaction holds in that stream)
 * under the stream's spinlock, so no reader can see the counter moved
 * without the mark.  The mark is cleared in the commit/abort callback,
 * which runs after ProcArrayEndTransaction, so a snapshot taken after a
 * reader saw the mark gone sees the transaction's outcome.
 *
 * Locking: KgStreamsLock (LWLock) protects the layout of the
 * stream hash (insert, delete); shared to look up.  Each entry's mutex
 * (spinlock) protects its counter, in-flight count, version and flags and
 * is held for a few instructions only.  A backend's producer slot is
 * written only by that backend, under the mutex of the stream concerned.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_STREAM_STATE_H
#define KG_STREAM_STATE_H

#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "datatype/timestamp.h"

#define KG_SHARD_BITS 16
#define KG_SHARD_MASK ((INT64CONST(1) << KG_SHARD_BITS) - 1)
#define KG_MAX_SHARD_INDEX ((int32) KG_SHARD_MASK)
#define KG_MAX_COUNTER (PG_INT64_MAX >> KG_SHARD_BITS)
#define KG_SEQ(counter, shard) (((int64) (counter) << KG_SHARD_BITS) | (int64) (shard))
#define KG_SEQ_COUNTER(seq) ((int64) (seq) >> KG_SHARD_BITS)
#define KG_SEQ_SHARD(seq) ((int32) ((seq) & KG_SHARD_MASK))

/* at most this many streams written by one transaction */
#define KG_MAX_STREAMS_PER_XACT 16

typedef struct KgStreamKey
{
	Oid			dboid;
	int32		stream_id;
} KgStreamKey;

typedef struct KgStreamState
{
	KgStreamKey key;			/* hash key: must be first */
	slock_t		mutex;
	bool		loaded;			/* counter restored from the tables */
	bool		dropped;		/* stream deleted; entry about to go */
	uint32		version;		/* bumped on every metadata change */
	int64		next_counter;	/* next counter to hand out */
	int32		n_inflight;		/* producer transactions holding marks */
	int32		n_waiters;		/* runners pinning the entry to sleep on it */
	int64		reshard_limit;	/* >0: an uncommitted reshard moves the counter
								 * here at commit; old-layout puts must stay
								 * below it */
	ConditionVariable commit_cv;	/* broadcast when a producer ends */
	pg_atomic_uint64 puts;		/* records put since startup */
} KgStreamState;

/* the shared memory part (kg_shmem_register) and its one LWLock */
#define KG_STREAMS_SHMEM "kinesis_glue streams"
extern LWLock *KgStreamsLock;	/* the layout of the stream and meter hashes */

extern Size kg_stream_state_shmem_size(void);
extern void kg_stream_state_shmem_init(void);
extern void kg_streams_init_backend(void);

extern KgStreamState *kg_stream_state_attach(int32 stream_id);
typedef enum KgTakeResult
{
	KG_TAKE_OK,
	KG_TAKE_STALE,				/* metadata changed: reload and retry */
	KG_TAKE_WAIT				/* a reshard is committing: wait, then retry */
} KgTakeResult;

extern KgTakeResult kg_stream_state_take(KgStreamState *st, uint32 version, int n,
										 int64 *first_counter);
extern void kg_stream_wait_reshard(KgStreamState *st);
extern int64 kg_stream_begin_reshard(KgStreamState *st, int64 reserve, int64 min_limit);
/* reshard_limit.c: for stream_state.c's transaction callbacks */
extern bool kg_reshards_pending(void);
extern void kg_end_reshards(bool commit);
extern void kg_end_subxact_reshards(SubTransactionId mySubid, SubTransactionId parentSubid, bool commit);
extern void kg_stream_state_restore(KgStreamState *st, int64 min_next_counter);
extern int64 kg_stream_stable_bound(KgStreamState *st);
extern int64 kg_stream_peek_counter(KgStreamState *st);
extern bool kg_stream_advance_counter(KgStreamState *st, int64 expected_max, int64 new_counter);
extern void kg_stream_changed_at_commit(int32 stream_id, bool dropped);
extern bool kg_stream_changed_in_xact(int32 stream_id);
extern bool kg_xact_has_puts(void);

/* for the kinesis.stream_stability view */
typedef struct KgStreamStability
{
	int64		next_counter;
	int64		stable_bound;
	int32		open_producers;
	TimestampTz oldest_producer_start;	/* 0 when none */
	bool		loaded;
} KgStreamStability;
extern bool kg_stream_stability(int32 stream_id, KgStreamStability *out);
extern ConditionVariable *kg_stream_prepare_to_wait(int32 stream_id);
extern void kg_stream_end_wait(void);

#endif							/* KG_STREAM_STATE_H */
