/*-------------------------------------------------------------------------
 *
 * read.h
 *		Reading a shard up to the last stable sequence (read.c).
 *
 * Locking: AccessShareLock on the segments read.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_READ_H
#define KG_READ_H

#include "access/genam.h"
#include "access/htup.h"
#include "executor/tuptable.h"
#include "utils/rel.h"
#include "utils/snapshot.h"
#include "streams/stream_cache.h"

/* Called per record; return false to stop. */
typedef bool (*KgRecordSink) (void *arg, int64 seq, TimestampTz arrival,
							  Datum partition_key, Datum data);

/* the columns of a record table's rows (stream_catalog.c) */
#define KG_STORED_NATTS 5

/*
 * A record as a stored-row sink sees it.  stored is the row of the segment
 * (valid during the call only) when its bytes may be copied as they are: the
 * segment has the record tables' layout and the row has no nulls and no
 * external (TOASTed out of line) values; NULL otherwise.
 */
typedef struct KgStoredRecord
{
	int64		seq;
	TimestampTz arrival;
	Datum		partition_key;
	Datum		data;
	HeapTuple	stored;
} KgStoredRecord;

/* Called per record; return false to stop. */
typedef bool (*KgStoredSink) (void *arg, const KgStoredRecord *rec);

typedef struct KgReadResult
{
	int			count;			/* records passed to the sink */
	int64		next_position;	/* position to resume from */
	bool		more;			/* stopped by limit, size or sink */
	bool		shard_end;		/* closed shard read to its end */
	TimestampTz last_arrival;	/* of the last record passed */
	int64		bytes;			/* data + partition key bytes passed */
} KgReadResult;

/*
 * A read of one shard in steps (read.c): kg_shard_reader_begin, then
 * kg_shard_reader_next until it returns false (or kg_shard_reader_stop, or
 * kg_shard_reader_end to give up early).  It holds the open segment and a
 * registered snapshot between steps, and no pointer into the stream cache.
 */
typedef struct KgShardReader
{
	/* what is read */
	char		stream_name[KG_STREAM_NAME_MAX + 1];	/* to look the stream up again */
	int32		stream_id;
	TimestampTz stream_created;
	int32		shard_index;
	bool		shard_closed;
	int64		ending_seq;		/* valid when shard_closed */
	int			limit;
	int64		max_bytes;
	int64		after_seq;		/* records after this one */
	int64		upper;			/* up to this one */
	TimestampTz cutoff;			/* records that arrived before: expired */
	Snapshot	snap;			/* NULL once done */
	int64		segno;			/* segment being read (or next to open) */
	int64		last_segno;
	/* the open segment (rel NULL: none) */
	Relation	rel;
	Relation	irel;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	bool		layout_ok;
	/* progress */
	bool		full;			/* limit reached: looking for one more */
	bool		pending;		/* last record returned, not counted yet */
	int64		pending_seq;
	TimestampTz pending_arrival;
	int64		pending_size;
	bool		peeked;			/* peek holds the next record to return */
	KgStoredRecord peek;
	int64		last_seq;		/* last record counted */
	bool		done;
	KgReadResult res;
} KgShardReader;

extern void kg_shard_reader_begin(KgShardReader *r, KgStream *s, KgShard *sh, int64 after_seq,
								  int limit, int64 max_bytes);
extern bool kg_shard_reader_next(KgShardReader *r, KgStoredRecord *rec);
extern bool kg_shard_reader_peek(KgShardReader *r);
extern void kg_shard_reader_stop(KgShardReader *r);
extern void kg_shard_reader_end(KgShardReader *r);
extern void kg_read_shard_range(KgStream *s, KgShard *sh, int64 after_seq, int limit,
								int64 max_bytes, KgRecordSink sink, void *arg,
								KgReadResult *res);
extern void kg_read_shard_rows(KgStream *s, KgShard *sh, int64 after_seq, int limit,
							   int64 max_bytes, KgStoredSink row_sink, void *arg,
							   KgReadResult *res);
extern void kg_check_read_privilege(KgStream *s);
extern int64 kg_trim_position(KgStream *s, KgShard *sh);
extern int64 kg_position_latest(KgStream *s, KgShard *sh);
extern int64 kg_position_at_time(KgStream *s, KgShard *sh, TimestampTz t);
extern void kg_check_starting_position(const char *position, bool has_timestamp);
extern int64 *kg_start_positions(KgStream *s, const char *position, TimestampTz t);

#endif							/* KG_READ_H */
