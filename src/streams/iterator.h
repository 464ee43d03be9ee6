/*-------------------------------------------------------------------------
 *
 * iterator.h
 *		Shard iterator tokens: a position in a shard, signed with HMAC-SHA256
 *		under a per-database secret that survives restarts, bound to the
 *		database OID (a copy of the database does not accept them), carrying
 *		the time it was issued (expiry: kinesis_glue.iterator_ttl).
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_ITERATOR_H
#define KG_ITERATOR_H

#include "utils/timestamp.h"

typedef struct KgIterator
{
	int32		stream_id;
	TimestampTz stream_created;	/* detects a stream re-created under the same id space */
	int32		shard_index;
	int64		position;		/* records with sequence number > position come next */
	TimestampTz issued_at;
} KgIterator;

extern char *kg_iterator_encode(const KgIterator *it);
extern void kg_iterator_decode(const char *token, KgIterator *it);

#endif							/* KG_ITERATOR_H */
