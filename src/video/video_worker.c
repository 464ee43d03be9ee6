/*-------------------------------------------------------------------------
 *
 * video_worker.c
 *		The worker tasks of Video Streams: segment upkeep (create time
 *		segments ahead, drop whole segments past the data retention) and
 *		the stream processors.
 *
 * Segment upkeep runs kinesis_video._upkeep(stream_id, true) as the
 * extension owner, one transaction per stream; it never waits for a lock
 * (a busy stream is retried next round).  Each running
 * processor has a runner worker ("kinesis_glue video processor", through
 * the shared runner registry, worker/kg_runner.h) that runs
 * kinesis_video._process(processor_id) as the processor's owner in a
 * security-restricted context, one transaction per batch of fragments, so
 * the function's events, their puts to the output data stream and the
 * processor's position commit together.  A failing processor records its
 * error and backs off (in SQL); the others go on.  A batch may run for
 * kinesis_glue.mapping_timeout; a function that runs longer is cancelled
 * and counts as a failed attempt, and one that ignores the cancel is
 * terminated after kinesis_glue.runner_grace.  The per-database worker
 * never waits on a processor.
 *
 * Locking: none of its own; see video.sql and video_processors.sql.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "common/kg_guc.h"
#include "video/video.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

#define KG_VIDEO_BATCHES_PER_ROUND 20

/* Transaction body: one stream's segment upkeep, as the extension owner. */
static void
kg_video_upkeep_stream(void *arg)
{
	KgObjectRef *it = (KgObjectRef *) arg;
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
	bool		ok;
	List	   *streams = kg_list_objects("kinesis_glue: list video streams",
										  "SELECT stream_id::bigint, 0::oid FROM kinesis_video.streams s "
										  "WHERE (SELECT pg_catalog.count(*) FROM pg_catalog.pg_trigger t "
										  "       WHERE t.tgrelid OPERATOR(pg_catalog.=) s.media_table "
										  "         AND t.tgname IN ('forbid_direct_dml', 'forbid_truncate')) OPERATOR(pg_catalog.=) 2 "
										  "ORDER BY stream_id", &ok);
	ListCell   *lc;

	foreach(lc, streams)
		(void) kg_run_in_transaction("kinesis_glue: video segment upkeep", kg_video_upkeep_stream, lfirst(lc));
	list_free_deep(streams);
}

static const KgRunnerKind processor_runner = {
	.name = "processor",
	.function_name = "kg_video_processor_main",
	.bgw_type = "kinesis_glue video processor",
	.restart = true,
	.reap = NULL,
	/* its function ignored the cancel at its timeout */
	.terminated_sql = "UPDATE kinesis_video.stream_processors SET last_error = $2, "
	"last_error_at = pg_catalog.clock_timestamp() WHERE processor_id OPERATOR(pg_catalog.=) $1",
};

static int
kg_processor_timeout(void)
{
	return kg_mapping_timeout_ms;
}

static const KgPollRunner processor = {
	.kind = &processor_runner,
	.list_sql = "SELECT processor_id::int8, owner::oid FROM kinesis_video.stream_processors "
	"WHERE status OPERATOR(pg_catalog.=) 'RUNNING' ORDER BY processor_id",
	.check_sql = "SELECT owner::oid, (next_attempt_at IS NULL "
	"OR next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()) "
	"FROM kinesis_video.stream_processors WHERE processor_id OPERATOR(pg_catalog.=) $1 "
	"AND status OPERATOR(pg_catalog.=) 'RUNNING'",
	.start_sql = NULL,
	.batch_sql = "SELECT kinesis_video._process($1)",
	.timeout_ms = kg_processor_timeout,
	.max_batches = KG_VIDEO_BATCHES_PER_ROUND,
};

/* Worker task: one runner per running stream processor. */
void
kg_video_processors(void)
{
	kg_poll_supervise(&processor);
}

/* Entry point of a stream processor runner (bgw_extra holds its KgRunnerInfo). */
void
kg_video_processor_main(Datum main_arg)
{
	kg_poll_runner_main(&processor);
}
