/*-------------------------------------------------------------------------
 *
 * record_read.h
 *		A read of get_records, get_records_rows or read_shard, in steps
 *		(record_read.c): the SQL functions drain it into their result, the
 *		KinesisRecordScan node (record_scan.c) hands it on row by row.
 *
 * Locking: see read.c (AccessShareLock on the segment being read).
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_RECORD_READ_H
#define KG_RECORD_READ_H

#include "fmgr.h"

#include "streams/iterator.h"
#include "streams/read.h"
#include "streams/record_rows.h"
#include "streams/throughput.h"

/* get_records' result besides its records */
typedef struct KgGetResult
{
	Datum		next_shard_iterator;	/* text; 0 when NULL */
	int64		millis_behind_latest;
	Datum		child_shards;	/* text[]; 0 when NULL */
} KgGetResult;

typedef struct KgRecordRead
{
	KgShardReader reader;
	KgRecordRows rows;			/* rows.shard_id: the shard's id as text */
	KgShardMeter *meter;		/* read quota to charge; NULL: none */
	bool		from_iterator;	/* get_records: it is the iterator read */
	KgIterator	it;
	bool		ended;
} KgRecordRead;

/* the argument checks get.c shares with the reads */
extern KgShard *kg_require_shard(KgStream *s, const char *shard_id);
extern void kg_check_sequence_for_shard(KgShard *sh, int64 seq, const char *what);

extern void kg_record_read_shard_begin(KgRecordRead *rr, FunctionCallInfo fcinfo, TupleDesc row_desc);
extern void kg_record_read_iterator_begin(KgRecordRead *rr, FunctionCallInfo fcinfo, int64 wait_ms,
										  TupleDesc row_desc);
extern int64 kg_record_read_wait_argument(FunctionCallInfo fcinfo);
extern void kg_record_read_result(KgRecordRead *rr, KgGetResult *out);
extern void kg_record_read_end(KgRecordRead *rr);
extern void kg_get_records_last_row(TupleDesc desc, const KgGetResult *out, Datum *values,
									bool *nulls);

/* The next record of the read; false when it is through. */
static inline bool
kg_record_read_next(KgRecordRead *rr, KgStoredRecord *rec)
{
	return kg_shard_reader_next(&rr->reader, rec);
}

#endif							/* KG_RECORD_READ_H */
