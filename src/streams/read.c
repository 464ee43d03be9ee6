/*-------------------------------------------------------------------------
 *
 * read.c
 *		The one scan every reader uses: the records of one shard after a
 *		position, up to the last stable sequence, in sequence order; and
 *		the positions readers start from (trim horizon, LATEST,
 *		AT_TIMESTAMP), which read.h declares with it.
 *
 * The stable bound is read first and the scan snapshot (the latest, not
 * the caller's, which may be older under REPEATABLE READ) taken after it, so
 * every record below the bound is seen in its final state: a reader never
 * returns sequence N+1 and later sees N appear.  Records older than the
 * stream's retention are skipped even before the worker drops their
 * segment.  The next position advances over everything below the bound
 * when the call returns all there is, so expired rows are not scanned
 * twice; a call that fills its limit peeks for one more live record, so
 * "more" and the end of a closed shard are exact.
 *
 * Locking: AccessShareLock on each segment read; a segment dropped
 * meanwhile is skipped (its records expired).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "common/kg_compat.h"
#include "common/kg_errors.h"
#include "common/kg_guc.h"
#include "streams/read.h"

/* AccessDeniedException unless the caller may read the stream. */
void
kg_check_read_privilege(KgStream *s)
{
	if (pg_class_aclcheck(s->record_table, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(KG_ACCESS_DENIED),
				 errmsg("AccessDeniedException: permission denied to read stream \"%s\"", s->name),
				 errhint("The stream's owner can grant it: GRANT SELECT ON %s TO role.",
						 quote_qualified_identifier("kinesis_records", get_rel_name(s->record_table)))));
}

/* Position just before the first record of a shard (its trim horizon). */
int64
kg_trim_position(KgStream *s, KgShard *sh)
{
	return sh->starting_seq - 1;
}

/*
 * Does a segment have the layout of the record tables (stream_catalog.c:
 * shard_index integer, sequence_number bigint, approximate_arrival_timestamp
 * timestamptz, partition_key text, data bytea)?  Only then are its rows read
 * at known offsets, and do stored-row sinks get the stored row itself.
 */
static bool
kg_segment_layout_ok(TupleDesc desc)
{
	static const Oid types[KG_STORED_NATTS] = {INT4OID, INT8OID, TIMESTAMPTZOID, TEXTOID, BYTEAOID};

	if (desc->natts != KG_STORED_NATTS)
		return false;
	for (int i = 0; i < KG_STORED_NATTS; i++)
		if (TupleDescAttr(desc, i)->attisdropped || TupleDescAttr(desc, i)->atttypid != types[i])
			return false;
	return true;
}

/*
 * The values of a row without nulls of a segment with the record tables'
 * layout, read at their known offsets: what slot_getallattrs would find,
 * without its general loop (about 500 instructions a row).
 */
static inline void
kg_stored_values(HeapTuple tup, int64 *seq, TimestampTz *arrival, Datum *pk, Datum *data)
{
	char	   *tp = (char *) tup->t_data + tup->t_data->t_hoff;
	uint32		off = att_align_nominal(sizeof(int32), TYPALIGN_DOUBLE);

	*seq = *(int64 *) (tp + off);
	off += sizeof(int64);
	*arrival = *(TimestampTz *) (tp + off);
	off += sizeof(TimestampTz);
	off = att_align_pointer(off, TYPALIGN_INT, -1, tp + off);
	*pk = PointerGetDatum(tp + off);
	off = att_addlength_pointer(off, -1, tp + off);
	off = att_align_pointer(off, TYPALIGN_INT, -1, tp + off);
	*data = PointerGetDatum(tp + off);
}

/* Open the reader's current segment; false when it has none to read. */
static bool
kg_shard_reader_open_segment(KgShardReader *r)
{
	while (r->segno <= r->last_segno)
	{
		KgStream   *s = kg_stream_get(r->stream_name, true);	/* a hash lookup */
		Oid			relid;
		List	   *indexes;
		ScanKeyData keys[3];

		if (s == NULL || s->stream_id != r->stream_id || s->created_at != r->stream_created)
			return false;		/* the stream was deleted meanwhile */
		relid = kg_segment_relid(s, r->segno);
		if (!OidIsValid(relid) || (r->rel = try_table_open(relid, AccessShareLock)) == NULL)
		{
			r->segno++;
			continue;
		}
		indexes = RelationGetIndexList(r->rel);
		if (indexes == NIL)
		{
			table_close(r->rel, AccessShareLock);
			r->rel = NULL;
			r->segno++;
			continue;
		}
		r->irel = index_open(linitial_oid(indexes), AccessShareLock);
		r->layout_ok = kg_segment_layout_ok(RelationGetDescr(r->rel));
		r->slot = table_slot_create(r->rel, NULL);
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(r->shard_index));
		ScanKeyInit(&keys[1], 2, BTGreaterStrategyNumber, F_INT8GT, Int64GetDatum(r->after_seq));
		ScanKeyInit(&keys[2], 2, BTLessEqualStrategyNumber, F_INT8LE, Int64GetDatum(r->upper));
		r->scan = index_beginscan(r->rel, r->irel, r->snap, 3, 0);
		index_rescan(r->scan, keys, 3, NULL, 0);
		return true;
	}
	return false;
}

/* Close the reader's current segment, if one is open. */
static void
kg_shard_reader_close_segment(KgShardReader *r)
{
	if (r->rel == NULL)
		return;
	index_endscan(r->scan);
	ExecDropSingleTupleTableSlot(r->slot);
	index_close(r->irel, AccessShareLock);
	table_close(r->rel, AccessShareLock);
	r->rel = NULL;
	r->segno++;
}

/* Release what the reader holds; r->res says how far it got. */
static void
kg_shard_reader_release(KgShardReader *r)
{
	if (r->done)
		return;
	kg_shard_reader_close_segment(r);
	if (r->snap != NULL)
		UnregisterSnapshot(r->snap);
	r->snap = NULL;
	r->done = true;
}

/* The reader is through: release it and complete r->res. */
static void
kg_shard_reader_finish(KgShardReader *r)
{
	kg_shard_reader_release(r);
	if (r->res.more)
		r->res.next_position = r->last_seq;
	else
	{
		r->res.next_position = r->upper;
		r->res.shard_end = r->shard_closed && r->upper >= r->ending_seq;
	}
}

/* The record last returned counts as read. */
static void
kg_shard_reader_count_pending(KgShardReader *r)
{
	r->pending = false;
	r->last_seq = r->pending_seq;
	r->res.count++;
	r->res.last_arrival = r->pending_arrival;
	r->res.bytes += r->pending_size;
}

/*
 * Start reading shard sh of stream s after after_seq, up to the last stable
 * sequence (and the shard's end): at most limit records and about max_bytes
 * (kg_shard_reader_next).  The reader keeps no pointer into the stream
 * cache, so it may live across calls (an executor node); it must be ended
 * (kg_shard_reader_end) unless it ran to its end or the transaction aborts.
 */
void
kg_shard_reader_begin(KgShardReader *r, KgStream *s, KgShard *sh, int64 after_seq,
					  int limit, int64 max_bytes)
{
	int64		bound = kg_stream_stable_bound(s->state);

	memset(r, 0, sizeof(*r));
	strlcpy(r->stream_name, s->name, sizeof(r->stream_name));
	r->stream_id = s->stream_id;
	r->stream_created = s->created_at;
	r->shard_index = sh->shard_index;
	r->shard_closed = sh->closed;
	r->ending_seq = sh->ending_seq;
	r->limit = limit;
	r->max_bytes = max_bytes;
	r->upper = KG_SEQ(bound, 0) - 1;
	r->cutoff = kg_stream_horizon(s);
	if (after_seq < sh->starting_seq - 1)
		after_seq = sh->starting_seq - 1;
	if (sh->closed && r->upper > sh->ending_seq)
		r->upper = sh->ending_seq;
	r->after_seq = after_seq;
	r->last_seq = after_seq;
	r->res.next_position = after_seq;
	if (r->upper <= after_seq)
	{
		r->res.shard_end = sh->closed && KG_SEQ(bound, 0) - 1 >= sh->ending_seq;
		r->done = true;
		return;
	}
	r->segno = KG_SEQ_COUNTER(after_seq + 1) / s->segment_capacity;
	r->last_segno = KG_SEQ_COUNTER(r->upper) / s->segment_capacity;
	r->snap = RegisterSnapshot(GetLatestSnapshot());
}

/*
 * The next record into *rec (its values and stored row valid until the next
 * call); false when the reader is through (r->res complete).  A record
 * returned counts as read when the next call is made, or stays unread when
 * the caller stops the reader instead (kg_shard_reader_stop).
 */
bool
kg_shard_reader_next(KgShardReader *r, KgStoredRecord *rec)
{
	if (r->peeked)
	{
		r->peeked = false;
		*rec = r->peek;
		return true;
	}
	if (r->pending)
	{
		kg_shard_reader_count_pending(r);

		/*
		 * Full: look on for one more live record, so that a closed shard read
		 * exactly to its end says so in this call.
		 */
		if (r->res.count >= r->limit || r->res.bytes >= r->max_bytes)
			r->full = true;
	}
	if (r->done)
		return false;
	for (;;)
	{
		int64		size;
		HeapTuple	tup = NULL;

		CHECK_FOR_INTERRUPTS();
		if (r->rel == NULL && !kg_shard_reader_open_segment(r))
			break;
		if (!index_getnext_slot(r->scan, ForwardScanDirection, r->slot))
		{
			kg_shard_reader_close_segment(r);
			continue;
		}
		if (r->layout_ok)
		{
			bool		should_free;

			tup = ExecFetchSlotHeapTuple(r->slot, false, &should_free);
			Assert(!should_free);
			if (HeapTupleHasNulls(tup))
				tup = NULL;
		}
		if (tup != NULL)
		{
			kg_stored_values(tup, &rec->seq, &rec->arrival, &rec->partition_key, &rec->data);
#ifdef USE_ASSERT_CHECKING
			slot_getallattrs(r->slot);
			Assert(rec->seq == DatumGetInt64(r->slot->tts_values[1]));
			Assert(rec->arrival == DatumGetTimestampTz(r->slot->tts_values[2]));
			Assert(rec->partition_key == r->slot->tts_values[3] && rec->data == r->slot->tts_values[4]);
#endif
		}
		else
		{
			slot_getallattrs(r->slot);
			rec->seq = DatumGetInt64(r->slot->tts_values[1]);
			rec->arrival = DatumGetTimestampTz(r->slot->tts_values[2]);
			rec->partition_key = r->slot->tts_values[3];
			rec->data = r->slot->tts_values[4];
		}
		if (rec->arrival < r->cutoff)
			continue;			/* expired, segment not dropped yet */
		if (r->full)
		{
			/* a live record beyond what this call returns */
			r->res.more = true;
			break;
		}
		size = toast_raw_datum_size(rec->data) + toast_raw_datum_size(rec->partition_key);
		if (r->res.count > 0 && r->res.bytes + size > r->max_bytes)
		{
			/* this record is for the next call */
			r->res.more = true;
			break;
		}
		rec->stored = tup != NULL && !HeapTupleHasExternal(tup) ? tup : NULL;
		r->pending = true;
		r->pending_seq = rec->seq;
		r->pending_arrival = rec->arrival;
		r->pending_size = size;
		return true;
	}
	kg_shard_reader_finish(r);
	return false;
}

/*
 * Is there a record to read?  The record looked at is what the next
 * kg_shard_reader_next returns.
 */
bool
kg_shard_reader_peek(KgShardReader *r)
{
	Assert(!r->peeked);
	r->peeked = kg_shard_reader_next(r, &r->peek);
	return r->peeked;
}

/*
 * Stop reading: the record last returned stays unread (it is where the
 * next read resumes).  r->res is complete afterwards.
 */
void
kg_shard_reader_stop(KgShardReader *r)
{
	Assert(!r->peeked);
	if (r->done)
		return;
	r->pending = false;
	r->res.more = true;
	kg_shard_reader_finish(r);
}

/*
 * End a reader early (what it returned counts as read; r->res is not
 * complete) or after its end.
 */
void
kg_shard_reader_end(KgShardReader *r)
{
	if (r->pending)
		kg_shard_reader_count_pending(r);
	kg_shard_reader_release(r);
}

/* kg_read_shard_range with a sink of records (sink) or of stored rows (row_sink) */
static void
kg_read_shard_range_internal(KgStream *s, KgShard *sh, int64 after_seq, int limit,
							 int64 max_bytes, KgRecordSink sink, KgStoredSink row_sink,
							 void *arg, KgReadResult *res)
{
	KgShardReader r;
	KgStoredRecord rec;

	kg_shard_reader_begin(&r, s, sh, after_seq, limit, max_bytes);
	while (kg_shard_reader_next(&r, &rec))
	{
		if (row_sink != NULL ? !row_sink(arg, &rec) :
			!sink(arg, rec.seq, rec.arrival, rec.partition_key, rec.data))
		{
			kg_shard_reader_stop(&r);
			break;
		}
	}
	*res = r.res;
}

/*
 * Scan shard sh of stream s for records with sequence number > after_seq,
 * up to the last stable sequence (and the shard's end), passing at most
 * limit records and about max_bytes to sink.
 */
void
kg_read_shard_range(KgStream *s, KgShard *sh, int64 after_seq, int limit,
					int64 max_bytes, KgRecordSink sink, void *arg,
					KgReadResult *res)
{
	kg_read_shard_range_internal(s, sh, after_seq, limit, max_bytes, sink, NULL, arg, res);
}

/*
 * kg_read_shard_range for sinks that copy whole records: row_sink also gets
 * the stored row when its bytes may be copied as they are (see
 * KgStoredRecord).
 */
void
kg_read_shard_rows(KgStream *s, KgShard *sh, int64 after_seq, int limit,
				   int64 max_bytes, KgStoredSink row_sink, void *arg,
				   KgReadResult *res)
{
	kg_read_shard_range_internal(s, sh, after_seq, limit, max_bytes, NULL, row_sink, arg, res);
}

/* records looked at per scan while looking for a time */
#define KG_FIND_TIME_BATCH 10000

typedef struct KgFindTime
{
	TimestampTz target;
	int64		found;
} KgFindTime;

static bool
kg_find_time_sink(void *arg, int64 seq, TimestampTz arrival, Datum pk, Datum data)
{
	KgFindTime *f = (KgFindTime *) arg;

	if (arrival >= f->target)
	{
		f->found = seq;
		return false;
	}
	return true;
}

/* Position of AT_TIMESTAMP: before the first record at or after t, else the tip. */
int64
kg_position_at_time(KgStream *s, KgShard *sh, TimestampTz t)
{
	int64		pos = kg_trim_position(s, sh);

	for (;;)
	{
		KgFindTime f = {t, -1};
		KgReadResult res;

		kg_read_shard_range(s, sh, pos, KG_FIND_TIME_BATCH, PG_INT64_MAX,
							kg_find_time_sink, &f, &res);
		if (f.found >= 0)
			return f.found - 1;
		if (!res.more)
			return res.next_position;
		pos = res.next_position;
		CHECK_FOR_INTERRUPTS();
	}
}

/* Position of LATEST: after the last stable record (a closed shard: its end). */
int64
kg_position_latest(KgStream *s, KgShard *sh)
{
	if (sh->closed)
		return sh->ending_seq;
	return Max(KG_SEQ(kg_stream_stable_bound(s->state), 0) - 1, kg_trim_position(s, sh));
}

/*
 * ValidationException unless position is TRIM_HORIZON, LATEST or
 * AT_TIMESTAMP; InvalidArgumentException unless a timestamp comes with
 * AT_TIMESTAMP and only with it.  (Consumers and event source mappings.)
 */
void
kg_check_starting_position(const char *position, bool has_timestamp)
{
	if (strcmp(position, "TRIM_HORIZON") != 0 && strcmp(position, "LATEST") != 0 &&
		strcmp(position, "AT_TIMESTAMP") != 0)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("ValidationException: starting position \"%s\" is not one of TRIM_HORIZON, LATEST, AT_TIMESTAMP", position)));
	if ((strcmp(position, "AT_TIMESTAMP") == 0) != has_timestamp)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidArgumentException: a starting position timestamp goes with AT_TIMESTAMP, and only with it")));
}

/* The position of every shard of s (by s->shards index) for a starting position. */
int64 *
kg_start_positions(KgStream *s, const char *position, TimestampTz t)
{
	int64	   *start = palloc(sizeof(int64) * Max(s->nshards, 1));

	for (int i = 0; i < s->nshards; i++)
	{
		KgShard    *sh = &s->shards[i];

		if (strcmp(position, "TRIM_HORIZON") == 0)
			start[i] = kg_trim_position(s, sh);
		else if (strcmp(position, "LATEST") == 0)
			start[i] = kg_position_latest(s, sh);
		else
			start[i] = kg_position_at_time(s, sh, t);
	}
	return start;
}
