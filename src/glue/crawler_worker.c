/*-------------------------------------------------------------------------
 *
 * crawler_worker.c
 *		Running crawls: the database worker's supervisor task starts one
 *		dynamic background worker ("kinesis_glue crawler") per requested
 *		crawl, and the crawler worker runs the crawl's steps.
 *
 * A crawl is a row of glue.crawls.  glue.start_crawler inserts it as
 * RUNNING with no worker_pid; the supervisor (each round of the database
 * worker) launches a crawler worker for it.  The crawler worker connects
 * to the database, writes its PID into the row, and runs the steps of
 * crawl.sql, each in its own transaction, as the crawler's owner in a
 * security-restricted context (so a crawl never has more rights than its
 * owner):
 *   glue._crawl_prepare(id)   list the targets' files
 *   glue._crawl_sample(id)    sample the next batch of files (repeated;
 *                             the progress view reads the counters)
 *   glue._crawl_finish(id)    group, infer, and write the Data Catalog
 * Each step checks for a stop request (state CANCELLING) and ends the crawl
 * as CANCELLED.  An error ends it as FAILED with the message.
 *
 * Crash safety: a crawl that was RUNNING or CANCELLING when the server
 * went down started before pg_postmaster_start_time(); a crawl whose worker
 * died has a worker_pid that is no longer a crawler worker.  The
 * supervisor marks both FAILED each round.  Catalog writes happen in the
 * last step's single transaction, so an interrupted crawl leaves the
 * catalog as it was.
 *
 * The crawler workers are runners of the shared registry
 * (worker/kg_runner.h), so a restarted database worker adopts them.
 *
 * Locking: none of its own; the crawl row is the state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "glue/crawler.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

static void kg_reap_crawler(const KgRunnerInfo *info, const char *reason);

static const KgRunnerKind crawl_runner = {
	.name = "crawl",
	.function_name = "kg_glue_crawler_main",
	.bgw_type = "kinesis_glue crawler",
	.restart = false,
	.reap = kg_reap_crawler,
};

/* ------------------------------------------------------------------------
 * Supervisor (in the database worker)
 * ------------------------------------------------------------------------ */

/*
 * Transaction body: fail crawls whose worker is gone (the server restarted,
 * or the worker exited without a registry entry that still runs it), and
 * drop the file lists of ended crawls.
 */
static void
kg_fail_interrupted_crawls(void *arg)
{
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	kg_spi_exec("UPDATE glue.crawls c SET state = 'FAILED', end_time = pg_catalog.clock_timestamp(), "
				"error_message = 'the crawl was interrupted: the server restarted or its worker exited' "
				"WHERE c.state IN ('RUNNING', 'CANCELLING') AND "
				"(c.start_time OPERATOR(pg_catalog.<) pg_catalog.pg_postmaster_start_time() OR "
				" (c.worker_pid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a "
				"   WHERE a.pid OPERATOR(pg_catalog.=) c.worker_pid "
				"     AND a.backend_type OPERATOR(pg_catalog.=) 'kinesis_glue crawler') "
				"   AND NOT EXISTS (SELECT 1 FROM kinesis_glue._runners() w "
				"     WHERE w.kind OPERATOR(pg_catalog.=) 'crawl' AND w.id OPERATOR(pg_catalog.=) c.crawl_id "
				"       AND w.state OPERATOR(pg_catalog.<>) 'idle' AND w.datid OPERATOR(pg_catalog.=) "
				"       (SELECT d.oid FROM pg_catalog.pg_database d "
				"         WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()))))",
				0, NULL, NULL, NULL, false);
	/* the file lists of crawls that ended without cleaning up */
	kg_spi_exec("DELETE FROM glue.crawl_files f USING glue.crawls c "
				"WHERE f.crawl_id OPERATOR(pg_catalog.=) c.crawl_id "
				"AND c.state NOT IN ('RUNNING', 'CANCELLING')", 0, NULL, NULL, NULL, false);
	kg_catalog_exit(&cc);
}

/*
 * Reap callback (in a transaction): a crawl whose worker exited before it
 * took the crawl failed.
 */
static void
kg_reap_crawler(const KgRunnerInfo *info, const char *reason)
{
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	kg_spi_exec("UPDATE glue.crawls SET state = 'FAILED', end_time = pg_catalog.clock_timestamp(), "
				"error_message = coalesce($2, 'the crawler worker exited before it started the crawl') "
				"WHERE crawl_id OPERATOR(pg_catalog.=) $1 AND (worker_pid IS NULL OR $2 IS NOT NULL) "
				"AND state IN ('RUNNING', 'CANCELLING')",
				2, (Oid[]) {INT8OID, TEXTOID},
				(Datum[]) {Int64GetDatum(info->id), info->terminated ? CStringGetTextDatum(reason) : (Datum) 0},
				info->terminated ? "  " : " n", false);
	kg_catalog_exit(&cc);
}

/*
 * Worker task: reap exited crawler workers, fail interrupted crawls and
 * want a crawler worker for each crawl that waits for one.
 */
void
kg_glue_crawler_supervise(void)
{
	List	   *pending = NIL;
	bool		ok;
	ListCell   *lc;

	kg_runner_round_begin(&crawl_runner);
	if (kg_run_in_transaction("kinesis_glue: fail interrupted crawls", kg_fail_interrupted_crawls, NULL))
		pending = kg_list_objects("kinesis_glue: list pending crawls",
								  "SELECT c.crawl_id, r.owner::oid FROM glue.crawls c JOIN glue.crawlers r "
								  "ON r.crawler_id OPERATOR(pg_catalog.=) c.crawler_id "
								  "WHERE c.state IN ('RUNNING', 'CANCELLING') AND c.worker_pid IS NULL "
								  "ORDER BY c.crawl_id", &ok);
	foreach(lc, pending)
	{
		KgObjectRef *w = lfirst(lc);

		(void) kg_runner_want(&crawl_runner, w->id, 0, 0, w->owner);
	}
	kg_runner_round_end(&crawl_runner, false);
	list_free_deep(pending);
}

/* ------------------------------------------------------------------------
 * Crawler worker
 * ------------------------------------------------------------------------ */

typedef struct KgCrawlStep
{
	int64		crawl_id;
	Oid			owner;
	const char *sql;			/* $1 = crawl id; returns one int8 */
	int64		result;
	char	   *error;			/* out, in TopMemoryContext */
} KgCrawlStep;

/* Transaction body: take the crawl (record our PID) and read its owner. */
static void
kg_take_crawl(KgCrawlStep *step)
{
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	if (kg_spi_exec("UPDATE glue.crawls c SET worker_pid = pg_catalog.pg_backend_pid() "
					"FROM glue.crawlers r WHERE r.crawler_id OPERATOR(pg_catalog.=) c.crawler_id "
					"AND c.crawl_id OPERATOR(pg_catalog.=) $1 AND c.worker_pid IS NULL "
					"AND c.state IN ('RUNNING', 'CANCELLING') RETURNING r.owner::oid",
					1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(step->crawl_id)}, NULL, false) == 1)
	{
		bool		isnull;

		step->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	kg_catalog_exit(&cc);
}

/* on_result of a step: its one int8 */
static void
kg_step_result(void *arg)
{
	KgCrawlStep *step = (KgCrawlStep *) arg;
	bool		isnull;

	if (SPI_processed != 1)
		elog(ERROR, "crawl step did not return a row: %s", step->sql);
	step->result = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Run one step in its own transaction as the owner, security-restricted.
 * Returns false, with step->error set, when it raised an error (its work
 * is rolled back).
 */
static bool
kg_run_step(KgCrawlStep *step)
{
	KgOwnerCall call = {0};

	call.owner = step->owner;
	call.sql = step->sql;
	call.nargs = 1;
	call.argtypes = (Oid[]) {INT8OID};
	call.args = (Datum[]) {Int64GetDatum(step->crawl_id)};
	call.own_transaction = true;
	call.on_result = kg_step_result;
	call.arg = step;
	if (kg_run_as_owner(&call))
		return true;
	step->error = MemoryContextStrdup(TopMemoryContext, call.error);
	return false;
}

/* Transaction body: end the crawl as FAILED with step->error. */
static void
kg_fail_crawl(void *arg)
{
	KgCrawlStep *step = (KgCrawlStep *) arg;
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	kg_spi_exec("UPDATE glue.crawls SET state = 'FAILED', end_time = pg_catalog.clock_timestamp(), "
				"error_message = $2 WHERE crawl_id OPERATOR(pg_catalog.=) $1 "
				"AND state IN ('RUNNING', 'CANCELLING')",
				2, (Oid[]) {INT8OID, TEXTOID},
				(Datum[]) {Int64GetDatum(step->crawl_id), CStringGetTextDatum(step->error)}, NULL, false);
	kg_spi_exec("DELETE FROM glue.crawl_files WHERE crawl_id OPERATOR(pg_catalog.=) $1",
				1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(step->crawl_id)}, NULL, false);
	kg_catalog_exit(&cc);
}

static void
kg_take_crawl_txn(void *arg)
{
	kg_take_crawl((KgCrawlStep *) arg);
}

/*
 * Entry point of a crawler worker: run one crawl (bgw_extra holds a
 * KgRunnerInfo) and exit.  SIGTERM ends it at once; the supervisor then
 * marks the crawl FAILED.
 */
void
kg_glue_crawler_main(Datum main_arg)
{
	KgRunnerInfo args;
	KgCrawlStep step;
	MemoryContext cxt;

	kg_runner_start(&args);
	cxt = AllocSetContextCreate(TopMemoryContext, "kinesis_glue crawler", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);

	memset(&step, 0, sizeof(step));
	step.crawl_id = args.id;
	if (!kg_run_in_transaction("kinesis_glue: take crawl", kg_take_crawl_txn, &step) ||
		!OidIsValid(step.owner))
		proc_exit(0);			/* taken by another worker, or gone */
	ereport(DEBUG1, (errmsg_internal("kinesis_glue crawl %lld started", (long long) args.id)));

	step.sql = "SELECT glue._crawl_prepare($1)";
	if (kg_run_step(&step) && step.result >= 0)
	{
		for (;;)
		{
			kg_loop_interrupts();
			MemoryContextReset(cxt);
			step.sql = "SELECT glue._crawl_sample($1)";
			if (!kg_run_step(&step) || step.result <= 0)
				break;
		}
		if (step.error == NULL && step.result == 0)
		{
			step.sql = "SELECT glue._crawl_finish($1)";
			(void) kg_run_step(&step);
		}
	}
	if (step.error != NULL)
	{
		ereport(LOG,
				(errmsg("kinesis_glue crawl %lld failed", (long long) args.id),
				 errdetail("%s", step.error)));
		(void) kg_run_in_transaction("kinesis_glue: fail crawl", kg_fail_crawl, &step);
	}
	proc_exit(0);
}
