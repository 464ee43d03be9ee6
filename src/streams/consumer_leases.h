/*-------------------------------------------------------------------------
 *
 * consumer_leases.h
 *		Leases and checkpoints of named consumers (consumer_leases.c), and
 *		the checks that open a consume (consumers.c): what kinesis.consume
 *		and the consume reader (consume_reader.c) share.
 *
 * Locking: row locks on the consumer's kinesis.consumer_shards rows, held
 * to the end of the caller's transaction.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_CONSUMER_LEASES_H
#define KG_CONSUMER_LEASES_H

#include "nodes/pg_list.h"

#include "streams/stream_cache.h"

/* what one read of a consume returns at most */
#define KG_CONSUME_MAX_BYTES (10 * 1024 * 1024)
#define KG_CONSUME_CHUNK 10000	/* records per read (kinesis.consume's most) */

/* A shard this session leases for the current call. */
typedef struct KgLease
{
	int32		shard_index;
	int64		checkpoint;
} KgLease;

extern List *kg_acquire_leases(KgStream *s, int32 consumer_id);
extern void kg_store_checkpoint(int32 consumer_id, int32 shard_index, int64 checkpoint,
								bool finished);
extern KgStream *kg_consume_open(const char *stream_name, const char *consumer,
								 int32 *consumer_id);

#endif							/* KG_CONSUMER_LEASES_H */
