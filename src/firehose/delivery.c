/*-------------------------------------------------------------------------
 *
 * delivery.c
 *		Delivering Firehose delivery streams in runner workers: one
 *		long-lived runner ("kinesis_glue delivery") per enabled delivery
 *		stream, kept by the database worker's supervisor task through the
 *		shared runner registry (worker/kg_runner.h).  The runner calls
 *		firehose._deliver(id, false) as the stream's owner, in a
 *		security-restricted context under kinesis_glue.delivery_timeout,
 *		one transaction per batch, until nothing is due.  The batch, the
 *		destination rows and the consumer checkpoint commit together
 *		(exactly once into tables and files).  When a runner of a file
 *		destination starts it first finishes the objects that a crash left
 *		under temporary names (objects.c); it is the only runner of its
 *		stream, so no delivery of that stream is in flight meanwhile.
 *
 * A stuck transform or program delays its own delivery stream only: the
 * per-database worker never waits on it, and a call that ignores the
 * cancel at its timeout is terminated (kinesis_glue.runner_grace).
 *
 * Locking: none of its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "firehose/firehose.h"
#include "worker/kg_runner.h"

#define KG_FIREHOSE_BATCHES_PER_ROUND 20

static const KgRunnerKind delivery_runner = {
	.name = "delivery",
	.function_name = "kg_firehose_delivery_main",
	.bgw_type = "kinesis_glue delivery",
	.restart = true,
	.reap = NULL,
	/* a transform, destination or program ignored the cancel at its timeout */
	.terminated_sql = "UPDATE firehose.delivery_streams SET last_error = $2, "
	"last_error_at = pg_catalog.clock_timestamp() WHERE delivery_stream_id OPERATOR(pg_catalog.=) $1",
};

static int
kg_delivery_timeout(void)
{
	return kg_delivery_timeout_ms;
}

static const KgPollRunner delivery = {
	.kind = &delivery_runner,
	.list_sql = "SELECT delivery_stream_id::int8, owner::oid FROM firehose.delivery_streams "
	"WHERE enabled ORDER BY delivery_stream_id",
	.check_sql = "SELECT owner::oid, true FROM firehose.delivery_streams "
	"WHERE delivery_stream_id OPERATOR(pg_catalog.=) $1 AND enabled",
	/* (recover_objects: the owner of a table destination may not run _recover_objects) */
	.start_sql = "SELECT firehose.recover_objects(delivery_stream_name) "
	"FROM firehose.delivery_streams WHERE delivery_stream_id OPERATOR(pg_catalog.=) $1 "
	"AND destination_type OPERATOR(pg_catalog.=) 'files'",
	.batch_sql = "SELECT firehose._deliver($1::int4, false)",
	.timeout_ms = kg_delivery_timeout,
	.max_batches = KG_FIREHOSE_BATCHES_PER_ROUND,
};

/* Worker task: one delivery runner per enabled delivery stream. */
void
kg_firehose_delivery(void)
{
	kg_poll_supervise(&delivery);
}

/* Entry point of a delivery runner (bgw_extra holds its KgRunnerInfo). */
void
kg_firehose_delivery_main(Datum main_arg)
{
	kg_poll_runner_main(&delivery);
}
