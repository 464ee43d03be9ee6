/*-------------------------------------------------------------------------
 *
 * consume.h
 *		Consuming a stream as a named consumer from other components' C code
 *		(consume_reader.c): Glue's bookmarked reads (src/glue/bookmarks.c)
 *		hand a stream's new records to their statement one by one, or store
 *		them all into their caller's tuplestore.
 *
 * Locking: the consumer's kinesis.consumer_shards rows, locked to the end
 * of the caller's transaction (as kinesis.consume); AccessShareLock on the
 * segment being read, from one step of a reader to the next.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_CONSUME_H
#define KG_CONSUME_H

#include "access/tupdesc.h"
#include "utils/tuplestore.h"

#include "streams/read.h"
#include "streams/record_rows.h"

typedef struct KgConsumeReader KgConsumeReader;

extern KgConsumeReader *kg_consume_reader_begin(const char *stream_name, const char *consumer,
												int64 max_records, TupleDesc desc);
extern bool kg_consume_reader_next(KgConsumeReader *r, KgStoredRecord *rec, KgRecordRows **rows);
extern void kg_consume_reader_end(KgConsumeReader *r);
extern int64 kg_consume_all(const char *stream_name, const char *consumer, int64 max_records,
							Tuplestorestate *store, TupleDesc desc);

#endif							/* KG_CONSUME_H */
