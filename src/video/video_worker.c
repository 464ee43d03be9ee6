/*-------------------------------------------------------------------------
 *
 * video_worker.c
 *		The worker tasks of Video Streams: segment upkeep (create time
 *		segments ahead, drop whole segments past the data retention) and
 *		the stream processors.
 *
 * Segment upkeep runs kinesis_video._upkeep(stream_id, true) as the
 * extension owner, one transaction per stream; it never waits for a lock
 * (a busy stream is retried next round).  Processors run
 * kinesis_video._process(processor_id) as the processor's owner in a
 * security-restricted context, one transaction per batch of fragments, so
 * the function's events, their puts to the output data stream and the
 * processor's position commit together.  A failing processor records its
 * error and backs off (in SQL); the others go on.  A batch may run for
 * kinesis_glue.mapping_timeout; a function that runs longer is cancelled
 * and counts as a failed attempt.
 *
 * Locking: none of its own; see video.sql and video_processors.sql.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "common/kg_guc.h"
#include "video/video.h"
#include "worker/kg_worker.h"

#define KG_VIDEO_BATCHES_PER_ROUND 20
#define KG_VIDEO_ROUND_BUDGET_MS 1000	/* per processor and round, after its first batch */

typedef struct KgVideoItem
{
	int64		id;
	Oid			owner;
	int32		taken;			/* out: fragments the batch handled */
} KgVideoItem;

typedef struct KgVideoList
{
	const char *sql;			/* returns (id, owner oid) */
	List	   *items;			/* of KgVideoItem, in TopMemoryContext */
} KgVideoList;

/* Transaction body: run l->sql as the extension owner, collect its rows. */
static void
kg_video_list(void *arg)
{
	KgVideoList *l = (KgVideoList *) arg;
	KgCatalogContext cc;
	int			n;

	kg_catalog_enter(&cc, false);
	n = kg_spi_exec(l->sql, 0, NULL, NULL, NULL, true);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		KgVideoItem *it = MemoryContextAllocZero(TopMemoryContext, sizeof(KgVideoItem));
		MemoryContext old;

		it->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		it->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		old = MemoryContextSwitchTo(TopMemoryContext);
		l->items = lappend(l->items, it);
		MemoryContextSwitchTo(old);
	}
	kg_catalog_exit(&cc);
}

/* Transaction body: one stream's segment upkeep, as the extension owner. */
static void
kg_video_upkeep_stream(void *arg)
{
	KgVideoItem *it = (KgVideoItem *) arg;
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	kg_spi_exec("SELECT kinesis_video._upkeep($1, true)", 1, (Oid[]) {INT4OID},
				(Datum[]) {Int32GetDatum((int32) it->id)}, NULL, false);
	kg_catalog_exit(&cc);
}

/* Worker task: segment upkeep of every video stream. */
void
kg_video_segment_upkeep(void)
{
	/* not a stream whose storage a restore is still recreating (2 triggers: sealed) */
	KgVideoList l = {"SELECT stream_id::bigint, 0::oid FROM kinesis_video.streams s "
		"WHERE (SELECT pg_catalog.count(*) FROM pg_catalog.pg_trigger t "
		"       WHERE t.tgrelid OPERATOR(pg_catalog.=) s.media_table "
		"         AND t.tgname IN ('forbid_direct_dml', 'forbid_truncate')) OPERATOR(pg_catalog.=) 2 "
		"ORDER BY stream_id", NIL};
	ListCell   *lc;

	if (!kg_run_in_transaction("kinesis_glue: list video streams", kg_video_list, &l))
		return;
	foreach(lc, l.items)
		(void) kg_run_in_transaction("kinesis_glue: video segment upkeep", kg_video_upkeep_stream, lfirst(lc));
	list_free_deep(l.items);
}

/* Transaction body: one batch of one stream processor, as its owner. */
static void
kg_video_process_batch(void *arg)
{
	KgVideoItem *it = (KgVideoItem *) arg;
	Oid			save_user;
	int			save_sec;

	it->taken = 0;
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(it->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to the SPI manager");

	/*
	 * A function that hangs must not hold up the worker's other tasks: the
	 * batch gets kinesis_glue.mapping_timeout, and _process records the
	 * cancellation as a failed attempt (with backoff) like any other error.
	 */
	if (kg_mapping_timeout_ms > 0)
		enable_timeout_after(STATEMENT_TIMEOUT, kg_mapping_timeout_ms);
	PG_TRY();
	{
		if (kg_spi_exec("SELECT kinesis_video._process($1)", 1, (Oid[]) {INT8OID},
						(Datum[]) {Int64GetDatum(it->id)}, NULL, false) == 1)
		{
			bool		isnull;
			Datum		v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			it->taken = isnull ? 0 : DatumGetInt32(v);
		}
	}
	PG_FINALLY();
	{
		if (kg_mapping_timeout_ms > 0)
			disable_timeout(STATEMENT_TIMEOUT, false);
	}
	PG_END_TRY();
	SPI_finish();
	SetUserIdAndSecContext(save_user, save_sec);
}

/* Worker task: hand new fragments to every running stream processor. */
void
kg_video_processors(void)
{
	KgVideoList l = {"SELECT processor_id, owner::oid FROM kinesis_video.stream_processors "
		"WHERE status OPERATOR(pg_catalog.=) 'RUNNING' AND (next_attempt_at IS NULL "
		"OR next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()) ORDER BY processor_id", NIL};
	ListCell   *lc;

	if (!kg_run_in_transaction("kinesis_glue: list stream processors", kg_video_list, &l))
		return;
	foreach(lc, l.items)
	{
		KgVideoItem *it = lfirst(lc);
		TimestampTz started = GetCurrentTimestamp();

		/*
		 * A processor gets more batches in this round only while it is
		 * quick: a slow function yields to the worker's other tasks after
		 * one batch (the rest waits for the next round).
		 */
		for (int i = 0; i < KG_VIDEO_BATCHES_PER_ROUND; i++)
		{
			if (!kg_run_in_transaction("kinesis_glue: stream processor", kg_video_process_batch, it) ||
				it->taken == 0 ||
				TimestampDifferenceExceeds(started, GetCurrentTimestamp(), KG_VIDEO_ROUND_BUDGET_MS))
				break;
			CHECK_FOR_INTERRUPTS();
		}
	}
	list_free_deep(l.items);
}
