/*-------------------------------------------------------------------------
 *
 * consume.h
 *		Consuming a stream as a named consumer from other components' C code
 *		(consumers.c): Glue's bookmarked reads (src/glue/bookmarks.c) store
 *		a stream's new records straight into their caller's tuplestore.
 *
 * Locking: the consumer's kinesis.consumer_shards rows, locked to the end
 * of the caller's transaction (as kinesis.consume).
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_CONSUME_H
#define KG_CONSUME_H

#include "access/tupdesc.h"
#include "utils/tuplestore.h"

extern int64 kg_consume_all(const char *stream_name, const char *consumer, int64 max_records,
							Tuplestorestate *store, TupleDesc desc);

#endif							/* KG_CONSUME_H */
