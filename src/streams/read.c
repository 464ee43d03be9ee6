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

/* kg_read_shard_range with a sink of records (sink) or of stored rows (row_sink) */
static void
kg_read_shard_range_internal(KgStream *s, KgShard *sh, int64 after_seq, int limit,
							 int64 max_bytes, KgRecordSink sink, KgStoredSink row_sink,
							 void *arg, KgReadResult *res)
{
	int64		bound = kg_stream_stable_bound(s->state);
	int64		upper = KG_SEQ(bound, 0) - 1;
	int64		cutoff = kg_stream_horizon(s);
	int64		bytes = 0;
	int64		last_seq;		/* last record passed to the sink */
	bool		full = false;
	Snapshot	snap;

	memset(res, 0, sizeof(*res));
	if (after_seq < sh->starting_seq - 1)
		after_seq = sh->starting_seq - 1;
	if (sh->closed && upper > sh->ending_seq)
		upper = sh->ending_seq;
	res->next_position = after_seq;
	last_seq = after_seq;
	if (upper <= after_seq)
	{
		res->shard_end = sh->closed && KG_SEQ(bound, 0) - 1 >= sh->ending_seq;
		return;
	}

	snap = RegisterSnapshot(GetLatestSnapshot());
	for (int64 segno = KG_SEQ_COUNTER(after_seq + 1) / s->segment_capacity;
		 segno <= KG_SEQ_COUNTER(upper) / s->segment_capacity && !res->more;
		 segno++)
	{
		Oid			relid = kg_segment_relid(s, segno);
		Relation	rel;
		List	   *indexes;
		Relation	irel;
		TupleTableSlot *slot;
		IndexScanDesc scan;
		ScanKeyData keys[3];
		bool		layout_ok;

		if (!OidIsValid(relid))
			continue;
		rel = try_table_open(relid, AccessShareLock);
		if (rel == NULL)
			continue;
		indexes = RelationGetIndexList(rel);
		if (indexes == NIL)
		{
			table_close(rel, AccessShareLock);
			continue;
		}
		irel = index_open(linitial_oid(indexes), AccessShareLock);
		layout_ok = kg_segment_layout_ok(RelationGetDescr(rel));
		slot = table_slot_create(rel, NULL);
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(sh->shard_index));
		ScanKeyInit(&keys[1], 2, BTGreaterStrategyNumber, F_INT8GT, Int64GetDatum(after_seq));
		ScanKeyInit(&keys[2], 2, BTLessEqualStrategyNumber, F_INT8LE, Int64GetDatum(upper));
		scan = index_beginscan(rel, irel, snap, 3, 0);
		index_rescan(scan, keys, 3, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			int64		size;
			int64		seq;
			TimestampTz arrival;
			Datum		pk,
						data;
			HeapTuple	tup = NULL;

			if (layout_ok)
			{
				bool		should_free;

				tup = ExecFetchSlotHeapTuple(slot, false, &should_free);
				Assert(!should_free);
				if (HeapTupleHasNulls(tup))
					tup = NULL;
			}
			if (tup != NULL)
			{
				kg_stored_values(tup, &seq, &arrival, &pk, &data);
#ifdef USE_ASSERT_CHECKING
				slot_getallattrs(slot);
				Assert(seq == DatumGetInt64(slot->tts_values[1]));
				Assert(arrival == DatumGetTimestampTz(slot->tts_values[2]));
				Assert(pk == slot->tts_values[3] && data == slot->tts_values[4]);
#endif
			}
			else
			{
				slot_getallattrs(slot);
				seq = DatumGetInt64(slot->tts_values[1]);
				arrival = DatumGetTimestampTz(slot->tts_values[2]);
				pk = slot->tts_values[3];
				data = slot->tts_values[4];
			}
			if (arrival < cutoff)
				continue;		/* expired, segment not dropped yet */
			if (full)
			{
				/* a live record beyond what this call returns */
				res->more = true;
				break;
			}
			size = toast_raw_datum_size(data) + toast_raw_datum_size(pk);
			if (res->count > 0 && bytes + size > max_bytes)
			{
				/* this record is for the next call */
				res->more = true;
				break;
			}
			if (row_sink != NULL)
			{
				KgStoredRecord rec = {seq, arrival, pk, data, NULL};

				if (tup != NULL && !HeapTupleHasExternal(tup))
					rec.stored = tup;
				if (!row_sink(arg, &rec))
				{
					res->more = true;
					break;
				}
			}
			else if (!sink(arg, seq, arrival, pk, data))
			{
				res->more = true;
				break;
			}
			last_seq = seq;
			res->count++;
			res->last_arrival = arrival;
			bytes += size;

			/*
			 * Full: look on for one more live record, so that a closed shard
			 * read exactly to its end says so in this call.
			 */
			if (res->count >= limit || bytes >= max_bytes)
				full = true;
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		index_close(irel, AccessShareLock);
		table_close(rel, AccessShareLock);
	}
	UnregisterSnapshot(snap);

	res->bytes = bytes;
	if (res->more)
		res->next_position = last_seq;
	else
	{
		res->next_position = upper;
		res->shard_end = sh->closed && upper >= sh->ending_seq;
	}
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
