/*-------------------------------------------------------------------------
 *
 * esm_batch.h
 *		Private to the event source mapping runner (esm_runner.c, the loop)
 *		and esm_batch.c (one batch): a mapping as the runner read it, the
 *		state of one shard of the runner's slot, and one batch.
 *
 * Locking: see esm_batch.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_ESM_BATCH_H
#define KG_ESM_BATCH_H

#include "datatype/timestamp.h"
#include "streams/stream_cache.h"

/* A mapping's settings, as the runner read them. */
typedef struct KgMapping
{
	int64		id;
	int32		stream_id;
	Oid			function;		/* InvalidOid: function_name no longer resolves */
	char	   *function_name;	/* the catalog's qualified signature */
	Oid			owner;
	int			batch_size;
	int64		window_ms;
	int			parallel;
	int			retries;
	int64		max_age_us;		/* 0: no limit */
	bool		bisect;
	char	   *destination;	/* NULL: none */
	bool		enabled;
	int32		generation;
} KgMapping;

/* What one batch did. */
typedef enum KgBatchOutcome
{
	KG_BATCH_IDLE,				/* nothing to do now */
	KG_BATCH_DEFERRED,			/* waiting for the batching window */
	KG_BATCH_DONE,				/* progress made */
	KG_BATCH_RETRY				/* failed; retry after a pause */
} KgBatchOutcome;

/* Runner state of one shard and slot, kept across batches. */
typedef struct KgSlotState
{
	int32		shard_index;
	int			limit;			/* current batch limit (bisect halves it) */
	TimestampTz retry_after;
} KgSlotState;

extern KgBatchOutcome kg_esm_batch(KgMapping *m, KgStream *s, KgShard *sh, int slot, int64 checkpoint,
								   int attempts, KgSlotState *ss, int64 *defer_ms);

#endif							/* KG_ESM_BATCH_H */
