/*-------------------------------------------------------------------------
 *
 * bookmarks.c
 *		glue.bookmark_records(stream_name, max_records): the records of a
 *		stream a Glue job run processes, as rows of the calling statement.
 *
 * A bookmarked stream -> table job is one statement,
 *   INSERT INTO t SELECT ... FROM glue.bookmark_records('s') r
 * and this function is its read: glue._bookmark_stream_open (as the
 * caller, the job's owner) checks that a run executes here, registers the
 * job's consumer on first use and notes the run in its bookmarks; with
 * job-bookmark-enable, kg_consume_all (streams/consume.h: kinesis.consume's
 * checks with the caller's rights, its leases, and its checkpoints in the
 * caller's transaction) then stores every new record straight into the
 * tuplestore the statement reads, in one call: no batches, no second copy.
 * The inserted rows and the moved checkpoints commit together with the
 * run, or roll back together (exactly once).  job-bookmark-pause and
 * job-bookmark-disable read without a checkpoint through
 * glue._bookmark_stream_scan.
 *
 * Runs with the caller's rights only: the SQL it runs is schema-qualified
 * and the function pins search_path (its SET clause).
 *
 * Locking: the job consumer's kinesis.consumer_shards rows (leases), to the
 * end of the run's transaction; the job's bookmark row (glue._bookmark_save).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "common/kg_errors.h"
#include "glue/glue.h"
#include "streams/consume.h"
#include "streams/record_scan.h"

#define KG_BOOKMARK_FETCH 1000

/* The arguments (stream_name, max_records), checked; max_records 0: no cap. */
static text *
kg_bookmark_arguments(FunctionCallInfo fcinfo, int64 *max_records)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidInputException: stream_name must not be null")));
	*max_records = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	if (!PG_ARGISNULL(1) && *max_records < 1)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidInputException: max_records must be at least 1"),
				 errhint("Pass NULL to read every new record.")));
	return PG_GETARG_TEXT_PP(0);
}

/*
 * Open the run's read of stream (glue._bookmark_stream_open, as the
 * caller): true for job-bookmark-enable.  *consumer is the job's consumer
 * (palloc'd in the current context), NULL for job-bookmark-disable.
 */
static bool
kg_bookmark_open(text *stream, char **consumer)
{
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext spi;
	char	   *option;
	bool		isnull;

	*consumer = NULL;
	SPI_connect();
	SPI_execute_with_args("SELECT o.option, o.consumer FROM glue._bookmark_stream_open($1) o",
						  1, (Oid[]) {TEXTOID}, (Datum[]) {PointerGetDatum(stream)}, NULL, false, 1);
	Assert(SPI_processed == 1);
	spi = MemoryContextSwitchTo(outer); /* the names outlive SPI */
	option = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!isnull)
	{
		Datum		c = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		if (!isnull)
			*consumer = TextDatumGetCString(c);
	}
	MemoryContextSwitchTo(spi);
	SPI_finish();
	return strcmp(option, "job-bookmark-enable") == 0;
}

/*
 * Copy the rows of glue._bookmark_stream_scan(stream, consumer) into store
 * (job-bookmark-pause: consumer set; job-bookmark-disable: NULL), after
 * glue._bookmark_stream_open's writes (not read-only, as they are not).
 */
static void
kg_bookmark_scan(text *stream, const char *consumer, Tuplestorestate *store)
{
	Portal		portal;

	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL, "SELECT * FROM glue._bookmark_stream_scan($1, $2)",
									   2, (Oid[]) {TEXTOID, TEXTOID},
									   (Datum[]) {PointerGetDatum(stream),
												  consumer ? CStringGetTextDatum(consumer) : (Datum) 0},
									   consumer ? "  " : " n", false, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, KG_BOOKMARK_FETCH);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
			tuplestore_puttuple(store, SPI_tuptable->vals[i]);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
}

PG_FUNCTION_INFO_V1(kg_glue_bookmark_records);

/*
 * glue.bookmark_records(stream_name, max_records DEFAULT NULL) -> SETOF
 * kinesis.record, inside a job run only (InvalidInputException elsewhere).
 * max_records (NULL: no cap) bounds a job-bookmark-enable read; the
 * checkpoints then stop after the last record returned.
 */
Datum
kg_glue_bookmark_records(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		max_records;
	text	   *stream = kg_bookmark_arguments(fcinfo, &max_records);
	char	   *consumer;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (!kg_bookmark_open(stream, &consumer))
		kg_bookmark_scan(stream, consumer, rsinfo->setResult);
	else
		kg_consume_all(text_to_cstring(stream), consumer, max_records, rsinfo->setResult,
					   rsinfo->setDesc);
	return (Datum) 0;
}

/*
 * KinesisRecordScan's steps for glue.bookmark_records (record_scan.h): a
 * consume reader, or the rows of glue._bookmark_stream_scan (the options
 * without a checkpoint to move) read back from a tuplestore.
 */
typedef struct KgBookmarkScan
{
	KgConsumeReader *reader;	/* job-bookmark-enable */
	Tuplestorestate *store;		/* the others */
	TupleTableSlot *slot;		/* of store */
} KgBookmarkScan;

static void
kg_bookmark_scan_begin(void *state, FunctionCallInfo fcinfo, TupleDesc desc)
{
	KgBookmarkScan *st = (KgBookmarkScan *) state;
	int64		max_records;
	text	   *stream = kg_bookmark_arguments(fcinfo, &max_records);
	char	   *consumer;

	if (kg_bookmark_open(stream, &consumer))
	{
		st->reader = kg_consume_reader_begin(text_to_cstring(stream), consumer, max_records, desc);
		return;
	}
	st->store = tuplestore_begin_heap(false, false, work_mem);
	st->slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	kg_bookmark_scan(stream, consumer, st->store);
}

static bool
kg_bookmark_scan_next(void *state, Datum *values, bool *nulls, MemoryContext row_cxt)
{
	KgBookmarkScan *st = (KgBookmarkScan *) state;

	if (st->reader != NULL)
	{
		KgStoredRecord rec;
		KgRecordRows *rows;

		if (!kg_consume_reader_next(st->reader, &rec, &rows))
			return false;
		kg_record_rows_slot_values(rows, &rec, values, nulls, row_cxt);
		return true;
	}
	if (!tuplestore_gettupleslot(st->store, true, false, st->slot))
		return false;
	slot_getallattrs(st->slot);
	memcpy(values, st->slot->tts_values, sizeof(Datum) * st->slot->tts_tupleDescriptor->natts);
	memcpy(nulls, st->slot->tts_isnull, sizeof(bool) * st->slot->tts_tupleDescriptor->natts);
	return true;
}

/* End the read: an early end moves the checkpoint only past what was returned. */
static void
kg_bookmark_scan_end(void *state)
{
	KgBookmarkScan *st = (KgBookmarkScan *) state;

	if (st->reader != NULL)
		kg_consume_reader_end(st->reader);
	if (st->slot != NULL)
		ExecDropSingleTupleTableSlot(st->slot);
	if (st->store != NULL)
		tuplestore_end(st->store);
	st->slot = NULL;
	st->store = NULL;
}

static const KgRecordScanProvider kg_bookmark_records_scan = {
	.symbol = "kg_glue_bookmark_records",
	.nargs = 2,
	.argtypes = {TEXTOID, INT4OID},
	.retset = true,
	.proconfig = "search_path=pg_catalog, pg_temp",
	.natts = 5,					/* kinesis.record */
	.name = "glue.bookmark_records",
	.state_size = sizeof(KgBookmarkScan),
	.begin = kg_bookmark_scan_begin,
	.next = kg_bookmark_scan_next,
	.end = kg_bookmark_scan_end,
};

/* Register bookmark_records with KinesisRecordScan (from kg_glue_init). */
void
kg_glue_register_bookmark_scan(void)
{
	kg_record_scan_register(&kg_bookmark_records_scan);
}
