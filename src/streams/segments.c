/*-------------------------------------------------------------------------
 *
 * segments.c
 *		Creation of record segments and the worker's segment upkeep task.
 *
 * Segment k of a stream is the partition kinesis_segments.s<id>_<k> of the
 * stream's record table, for sequence numbers
 * [KG_SEQ(k * capacity, 0), KG_SEQ((k + 1) * capacity, 0)).  The put path
 * computes the segment from the counter, so it never needs a catalog read
 * to switch segments.  The worker keeps kinesis_glue.segments_ahead
 * segments created beyond the current one, records when each segment was
 * first current (opened_at) and when it filled (closed_at), and closes a
 * segment that has been current longer than kinesis_glue.segment_interval
 * by moving the counter to the next segment's start (gaps are allowed), so
 * segments stay time-ordered and small enough to expire whole.
 *
 * Locking: see segments.h.  Each stream's upkeep is one transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "pgstat.h"

#include "common/kg_catalog.h"
#include "common/kg_errors.h"
#include "common/kg_guc.h"
#include "streams/streams.h"
#include "common/kg_shmem.h"
#include "streams/segments.h"
#include "worker/kg_worker.h"

/*
 * Create segment segment_no of a stream (partition + catalog row), unless
 * it exists.  Runs DDL as the extension owner; the caller has checked
 * privileges.  With nowait, returns false instead of waiting for a lock on
 * the record table.
 */
bool
kg_create_segment(int32 stream_id, Oid record_table, int64 segment_capacity,
				  int64 segment_no, bool opened, bool nowait)
{
	KgCatalogContext cc;
	char	   *relname = kg_segment_relname(stream_id, segment_no);
	char	   *parent;
	int64		lo,
				hi;
	Datum		values[4];
	Oid			argtypes[4] = {INT4OID, INT8OID, TEXTOID, BOOLOID};

	if (segment_no < 0 || (segment_no + 1) > KG_MAX_COUNTER / segment_capacity)
		ereport(ERROR,
				(errcode(KG_LIMIT_EXCEEDED),
				 errmsg("LimitExceededException: stream has no sequence numbers left for segment %lld",
						(long long) segment_no)));
	if (get_rel_name(record_table) == NULL)
		ereport(ERROR,
				(errcode(KG_RESOURCE_NOT_FOUND),
				 errmsg("ResourceNotFoundException: the record table of stream %d no longer exists", stream_id)));
	lo = KG_SEQ(segment_no * segment_capacity, 0);
	hi = KG_SEQ((segment_no + 1) * segment_capacity, 0);
	parent = quote_qualified_identifier(get_namespace_name(get_rel_namespace(record_table)),
										get_rel_name(record_table));

	/*
	 * Serialise segment creators (worker, reshard) and skip existing ones.
	 * The worker does not wait: a session reading the record table (say
	 * pg_dump) would otherwise stall the upkeep of every stream.
	 */
	if (!nowait)
		LockRelationOid(record_table, ShareUpdateExclusiveLock);
	else if (!ConditionalLockRelationOid(record_table, AccessExclusiveLock))
		return false;
	kg_catalog_enter(&cc, false);
	if (kg_spi_exec("SELECT 1 FROM kinesis.segments WHERE stream_id OPERATOR(pg_catalog.=) $1 "
					"AND segment_no OPERATOR(pg_catalog.=) $2",
					2, (Oid[]) {INT4OID, INT8OID},
					(Datum[]) {Int32GetDatum(stream_id), Int64GetDatum(segment_no)}, NULL, false) > 0)
	{
		kg_catalog_exit(&cc);
		return true;
	}
	kg_spi_exec(psprintf("CREATE TABLE kinesis_segments.%s PARTITION OF %s "
						 "FOR VALUES FROM (" INT64_FORMAT ") TO (" INT64_FORMAT ")",
						 quote_identifier(relname), parent, lo, hi),
				0, NULL, NULL, NULL, false);
	values[0] = Int32GetDatum(stream_id);
	values[1] = Int64GetDatum(segment_no);
	values[2] = CStringGetTextDatum(psprintf("kinesis_segments.%s", quote_identifier(relname)));
	values[3] = BoolGetDatum(opened);
	kg_spi_exec("INSERT INTO kinesis.segments (stream_id, segment_no, relation, opened_at) "
				"VALUES ($1, $2, $3::pg_catalog.regclass, "
				"CASE WHEN $4 THEN pg_catalog.clock_timestamp() END)",
				4, argtypes, values, NULL, false);
	kg_catalog_exit(&cc);
	return true;
}

/*
 * OID of a segment the put path needs; if the worker has not created it
 * yet, wake it and wait up to kinesis_glue.segment_wait.
 */
Oid
kg_segment_relid_wait(KgStream *s, int64 segment_no)
{
	Oid			relid = kg_segment_relid(s, segment_no);
	TimestampTz deadline;

	if (OidIsValid(relid))
		return relid;
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kg_segment_wait_ms);
	while (!OidIsValid(relid = kg_segment_relid(s, segment_no)))
	{
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("InternalFailure: record segment %lld of stream \"%s\" does not exist yet",
							(long long) segment_no, s->name),
					 errhint("The kinesis_glue worker creates segments ahead of need; check that it runs (kinesis_glue.workers) or raise \"kinesis_glue.segment_records\" for new streams.")));
		kg_wake_worker(MyDatabaseId);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return relid;
}

static void kg_expire_segments(KgStream *s, int64 current_segment);

typedef struct KgUpkeepArg
{
	int32		stream_id;
} KgUpkeepArg;

/* One stream's upkeep: create ahead, stamp opened/closed, close by age. */
static void
kg_upkeep_stream(void *arg)
{
	int32		stream_id = ((KgUpkeepArg *) arg)->stream_id;
	KgStream   *s = kg_stream_get_by_id(stream_id, true);
	KgCatalogContext cc;
	int64		counter,
				cur;
	int			n;
	int64		max_existing = -1;
	TimestampTz cur_opened = 0;
	bool		cur_has_row = false;

	if (s == NULL)
		return;
	counter = kg_stream_peek_counter(s->state);
	cur = counter / s->segment_capacity;

	kg_catalog_enter(&cc, false);
	/* stamp segments that became current or full since the last round */
	kg_spi_exec("UPDATE kinesis.segments SET opened_at = pg_catalog.clock_timestamp() "
				"WHERE stream_id OPERATOR(pg_catalog.=) $1 AND segment_no OPERATOR(pg_catalog.<=) $2 "
				"AND opened_at IS NULL",
				2, (Oid[]) {INT4OID, INT8OID},
				(Datum[]) {Int32GetDatum(stream_id), Int64GetDatum(cur)}, NULL, false);
	kg_spi_exec("UPDATE kinesis.segments SET closed_at = pg_catalog.clock_timestamp() "
				"WHERE stream_id OPERATOR(pg_catalog.=) $1 AND segment_no OPERATOR(pg_catalog.<) $2 "
				"AND closed_at IS NULL",
				2, (Oid[]) {INT4OID, INT8OID},
				(Datum[]) {Int32GetDatum(stream_id), Int64GetDatum(cur)}, NULL, false);
	n = kg_spi_exec("SELECT max(segment_no), "
					"max(opened_at) FILTER (WHERE segment_no OPERATOR(pg_catalog.=) $2) "
					"FROM kinesis.segments WHERE stream_id OPERATOR(pg_catalog.=) $1",
					2, (Oid[]) {INT4OID, INT8OID},
					(Datum[]) {Int32GetDatum(stream_id), Int64GetDatum(cur)}, NULL, false);
	if (n > 0)
	{
		bool		isnull;
		Datum		d;

		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			max_existing = DatumGetInt64(d);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (!isnull)
			cur_opened = DatumGetTimestampTz(d);
	}
	kg_catalog_exit(&cc);

	for (int64 k = Max(max_existing + 1, cur); k <= cur + kg_segments_ahead; k++)
		if (!kg_create_segment(stream_id, s->record_table, s->segment_capacity, k, k == cur, true))
			break;				/* record table busy: next round */

	kg_expire_segments(s, cur);

	/* close a non-empty current segment that has been current too long */
	cur_has_row = counter > cur * s->segment_capacity;
	if (cur_has_row && cur_opened != 0 &&
		TimestampDifferenceExceeds(cur_opened, GetCurrentTimestamp(), kg_segment_interval_s * 1000))
	{
		int64		next_start = (cur + 1) * s->segment_capacity;

		if (kg_stream_advance_counter(s->state, next_start, next_start))
		{
			kg_catalog_enter(&cc, false);
			kg_spi_exec("UPDATE kinesis.segments SET "
						"closed_at = CASE WHEN segment_no OPERATOR(pg_catalog.<) $2 "
						"THEN coalesce(closed_at, pg_catalog.clock_timestamp()) ELSE closed_at END, "
						"opened_at = CASE WHEN segment_no OPERATOR(pg_catalog.=) $2 "
						"THEN coalesce(opened_at, pg_catalog.clock_timestamp()) ELSE opened_at END "
						"WHERE stream_id OPERATOR(pg_catalog.=) $1 AND segment_no IN ($2 OPERATOR(pg_catalog.-) 1, $2)",
						2, (Oid[]) {INT4OID, INT8OID},
						(Datum[]) {Int32GetDatum(stream_id), Int64GetDatum(cur + 1)}, NULL, false);
			kg_catalog_exit(&cc);
		}
	}
}

/*
 * Drop the segments of a stream whose records have all passed the
 * retention period: closed (the counter has moved past them) before
 * now - retention.  Whole tables go; no row is deleted.  The current
 * segment is never dropped, so the counter floor survives in the catalog.
 */
static void
kg_expire_segments(KgStream *s, int64 current_segment)
{
	KgCatalogContext cc;
	int			n;
	Oid		   *relids;
	int64	   *segnos;
	TimestampTz horizon = kg_stream_horizon(s);

	kg_catalog_enter(&cc, false);
	n = kg_spi_exec("SELECT segment_no, relation::oid FROM kinesis.segments "
					"WHERE stream_id OPERATOR(pg_catalog.=) $1 AND segment_no OPERATOR(pg_catalog.<) $2 "
					"AND closed_at OPERATOR(pg_catalog.<) $3 ORDER BY segment_no",
					3, (Oid[]) {INT4OID, INT8OID, TIMESTAMPTZOID},
					(Datum[]) {Int32GetDatum(s->stream_id), Int64GetDatum(current_segment),
							   TimestampTzGetDatum(horizon)}, NULL, false);
	relids = palloc(sizeof(Oid) * Max(n, 1));
	segnos = palloc(sizeof(int64) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		segnos[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		relids[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}
	for (int i = 0; i < n; i++)
	{
		char	   *relname = get_rel_name(relids[i]);

		/* never wait: a reader of the stream must not stall the worker */
		if (relname &&
			(!ConditionalLockRelationOid(s->record_table, AccessExclusiveLock) ||
			 !ConditionalLockRelationOid(relids[i], AccessExclusiveLock)))
			break;				/* busy: next round */
		if (relname)
			kg_spi_exec(psprintf("DROP TABLE kinesis_segments.%s", quote_identifier(relname)),
						0, NULL, NULL, NULL, false);
		kg_spi_exec("DELETE FROM kinesis.segments WHERE stream_id OPERATOR(pg_catalog.=) $1 "
					"AND segment_no OPERATOR(pg_catalog.=) $2",
					2, (Oid[]) {INT4OID, INT8OID},
					(Datum[]) {Int32GetDatum(s->stream_id), Int64GetDatum(segnos[i])}, NULL, false);
		ereport(DEBUG1,
				(errmsg_internal("expired segment %lld of stream \"%s\"", (long long) segnos[i], s->name)));
	}
	kg_catalog_exit(&cc);
}

/*
 * Transaction body for worker tasks: collect the ids of this database's
 * streams (only ON_DEMAND ones with on_demand_only) into a List in
 * TopMemoryContext.
 */
void
kg_list_stream_ids(void *arg)
{
	KgStreamIdList *l = (KgStreamIdList *) arg;
	List	  **ids = &l->ids;
	KgCatalogContext cc;
	int			n;

	kg_catalog_enter(&cc, false);
	n = kg_spi_exec(l->on_demand_only ?
					"SELECT stream_id FROM kinesis.streams WHERE stream_mode OPERATOR(pg_catalog.=) 'ON_DEMAND' ORDER BY stream_id" :
					"SELECT stream_id FROM kinesis.streams ORDER BY stream_id", 0, NULL, NULL, NULL, true);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		int32		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		*ids = lappend_int(*ids, id);
		MemoryContextSwitchTo(old);
	}
	kg_catalog_exit(&cc);
}

/* Worker task: segment upkeep for every stream, one transaction each. */
void
kg_segment_upkeep(void)
{
	KgStreamIdList l = {NIL, false};
	ListCell   *lc;

	if (!kg_run_in_transaction("kinesis_glue: list streams", kg_list_stream_ids, &l))
		return;
	foreach(lc, l.ids)
	{
		KgUpkeepArg arg;

		arg.stream_id = lfirst_int(lc);
		(void) kg_run_in_transaction("kinesis_glue: segment upkeep", kg_upkeep_stream, &arg);
	}
	list_free(l.ids);
}
