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
#include "funcapi.h"
#include "utils/builtins.h"

#include "common/kg_errors.h"
#include "streams/consume.h"

#define KG_BOOKMARK_FETCH 1000

/*
 * Copy the rows of glue._bookmark_stream_scan(stream, consumer) into store
 * (job-bookmark-pause: consumer set; job-bookmark-disable: NULL).  In SPI,
 * after glue._bookmark_stream_open's writes (not read-only, as they are not).
 */
static void
kg_bookmark_scan(text *stream, const char *consumer, Tuplestorestate *store)
{
	Portal		portal;

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
	text	   *stream;
	int64		max_records = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	char	   *option;
	char	   *consumer = NULL;
	bool		isnull;
	MemoryContext outer;
	MemoryContext spi;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidInputException: stream_name must not be null")));
	if (!PG_ARGISNULL(1) && max_records < 1)
		ereport(ERROR,
				(errcode(KG_INVALID_ARGUMENT),
				 errmsg("InvalidInputException: max_records must be at least 1"),
				 errhint("Pass NULL to read every new record.")));
	stream = PG_GETARG_TEXT_PP(0);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	outer = CurrentMemoryContext;
	SPI_connect();
	SPI_execute_with_args("SELECT o.option, o.consumer FROM glue._bookmark_stream_open($1) o",
						  1, (Oid[]) {TEXTOID}, (Datum[]) {PointerGetDatum(stream)}, NULL, false, 1);
	Assert(SPI_processed == 1);
	spi = MemoryContextSwitchTo(outer);	/* the names outlive SPI */
	option = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!isnull)
	{
		Datum		c = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		if (!isnull)
			consumer = TextDatumGetCString(c);
	}
	MemoryContextSwitchTo(spi);
	if (strcmp(option, "job-bookmark-enable") != 0)
	{
		kg_bookmark_scan(stream, consumer, rsinfo->setResult);
		SPI_finish();
		return (Datum) 0;
	}
	SPI_finish();
	Assert(consumer != NULL);
	kg_consume_all(text_to_cstring(stream), consumer, max_records, rsinfo->setResult, rsinfo->setDesc);
	return (Datum) 0;
}
