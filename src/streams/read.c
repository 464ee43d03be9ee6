/*-------------------------------------------------------------------------
 *
 * read.c
 *		The one scan every reader uses: the records of one shard after a
 *		position, up to the last stable sequence, in sequence order.
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
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
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
 * Scan shard sh of stream s for records with sequence number > after_seq,
 * up to the last stable sequence (and the shard's end), passing at most
 * limit records and about max_bytes to sink.
 */
void
kg_read_shard_range(KgStream *s, KgShard *sh, int64 after_seq, int limit,
					int64 max_bytes, KgRecordSink sink, void *arg,
					KgReadResult *res)
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
		slot = table_slot_create(rel, NULL);
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(sh->shard_index));
		ScanKeyInit(&keys[1], 2, BTGreaterStrategyNumber, F_INT8GT, Int64GetDatum(after_seq));
		ScanKeyInit(&keys[2], 2, BTLessEqualStrategyNumber, F_INT8LE, Int64GetDatum(upper));
		scan = index_beginscan(rel, irel, snap, 3, 0);
		index_rescan(scan, keys, 3, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			int64		size;
			int64		seq;
			TimestampTz arrival;
			Datum		pk,
						data;

			slot_getallattrs(slot);
			seq = DatumGetInt64(slot->tts_values[1]);
			arrival = DatumGetTimestampTz(slot->tts_values[2]);
			if (arrival < cutoff)
				continue;		/* expired, segment not dropped yet */
			if (full)
			{
				/* a live record beyond what this call returns */
				res->more = true;
				break;
			}
			pk = slot->tts_values[3];
			data = slot->tts_values[4];
			(void) isnull;
			size = toast_raw_datum_size(data) + toast_raw_datum_size(pk);
			if (res->count > 0 && bytes + size > max_bytes)
			{
				/* this record is for the next call */
				res->more = true;
				break;
			}
			if (!sink(arg, seq, arrival, pk, data))
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
