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
 * Locking: none of its own; the crawl row is the state.  The supervisor's
 * handles live in its memory only.
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
#include "worker/kg_worker.h"

typedef struct KgCrawlEntry
{
	int64		crawl_id;
	BackgroundWorkerHandle *handle;
} KgCrawlEntry;

static HTAB *Crawls = NULL;
static TimestampTz last_slot_warning = 0;

/* ------------------------------------------------------------------------
 * Supervisor (in the database worker)
 * ------------------------------------------------------------------------ */

/*
 * Transaction body: fail crawls whose worker is gone, drop the file lists
 * of ended crawls, and list the crawls
 * waiting for a worker into *(List **) arg (int64s in TopMemoryContext).
 */
static void
kg_list_pending_crawls(void *arg)
{
	List	  **out = (List **) arg;
	KgCatalogContext cc;
	int			n;

	kg_catalog_enter(&cc, false);
	kg_spi_exec("UPDATE glue.crawls c SET state = 'FAILED', end_time = pg_catalog.clock_timestamp(), "
				"error_message = 'the crawl was interrupted: the server restarted or its worker exited' "
				"WHERE c.state IN ('RUNNING', 'CANCELLING') AND "
				"(c.start_time OPERATOR(pg_catalog.<) pg_catalog.pg_postmaster_start_time() OR "
				" (c.worker_pid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a "
				"   WHERE a.pid OPERATOR(pg_catalog.=) c.worker_pid "
				"     AND a.backend_type OPERATOR(pg_catalog.=) 'kinesis_glue crawler')))",
				0, NULL, NULL, NULL, false);
	/* the file lists of crawls that ended without cleaning up */
	kg_spi_exec("DELETE FROM glue.crawl_files f USING glue.crawls c "
				"WHERE f.crawl_id OPERATOR(pg_catalog.=) c.crawl_id "
				"AND c.state NOT IN ('RUNNING', 'CANCELLING')", 0, NULL, NULL, NULL, false);
	n = kg_spi_exec("SELECT crawl_id FROM glue.crawls WHERE state IN ('RUNNING', 'CANCELLING') "
					"AND worker_pid IS NULL ORDER BY crawl_id", 0, NULL, NULL, NULL, true);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		int64	   *p = palloc(sizeof(int64));

		*p = id;
		*out = lappend(*out, p);
		MemoryContextSwitchTo(old);
	}
	kg_catalog_exit(&cc);
}

/* Transaction body: a crawl whose worker exited before taking it failed. */
static void
kg_fail_unstarted_crawl(void *arg)
{
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	kg_spi_exec("UPDATE glue.crawls SET state = 'FAILED', end_time = pg_catalog.clock_timestamp(), "
				"error_message = 'the crawler worker exited before it started the crawl' "
				"WHERE crawl_id OPERATOR(pg_catalog.=) $1 AND worker_pid IS NULL "
				"AND state IN ('RUNNING', 'CANCELLING')",
				1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(*(int64 *) arg)}, NULL, false);
	kg_catalog_exit(&cc);
}

static bool
kg_launch_crawler(KgCrawlEntry *e)
{
	KgCrawlerArgs args;

	args.dboid = MyDatabaseId;
	args.crawl_id = e->crawl_id;
	return kg_launch_dynamic_worker("kg_glue_crawler_main", "kinesis_glue crawler",
									psprintf("kinesis_glue crawl %lld", (long long) e->crawl_id),
									&args, sizeof(args), &e->handle);
}

/*
 * Worker task: fail interrupted crawls and start a crawler worker for each
 * crawl that waits for one.
 */
void
kg_glue_crawler_supervise(void)
{
	List	   *pending = NIL;
	ListCell   *lc;
	HASH_SEQ_STATUS hs;
	KgCrawlEntry *e;

	if (Crawls == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(KgCrawlEntry);
		ctl.hcxt = TopMemoryContext;
		Crawls = hash_create("kinesis_glue crawler workers", 16, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	/*
	 * Forget workers that exited; a crawl they never took has failed.  The
	 * transactions run after the scan (a transaction end checks for
	 * unfinished hash scans).
	 */
	{
		List	   *gone = NIL;

		hash_seq_init(&hs, Crawls);
		while ((e = hash_seq_search(&hs)) != NULL)
		{
			pid_t		pid;

			if (e->handle && GetBackgroundWorkerPid(e->handle, &pid) != BGWH_STOPPED)
				continue;
			gone = lappend(gone, e);
		}
		foreach(lc, gone)
		{
			int64		id;

			e = lfirst(lc);
			id = e->crawl_id;
			if (e->handle)
				pfree(e->handle);
			hash_search(Crawls, &id, HASH_REMOVE, NULL);
			(void) kg_run_in_transaction("kinesis_glue: fail an unstarted crawl", kg_fail_unstarted_crawl, &id);
		}
		list_free(gone);
	}

	if (!kg_run_in_transaction("kinesis_glue: list pending crawls", kg_list_pending_crawls, &pending))
		return;
	foreach(lc, pending)
	{
		int64		id = *(int64 *) lfirst(lc);
		bool		found;
		TimestampTz now = GetCurrentTimestamp();

		e = hash_search(Crawls, &id, HASH_ENTER, &found);
		if (found)
			continue;			/* launched, not yet connected */
		if (!kg_launch_crawler(e))
		{
			hash_search(Crawls, &id, HASH_REMOVE, NULL);
			if (TimestampDifferenceExceeds(last_slot_warning, now, 60 * 1000))
			{
				ereport(WARNING,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("could not start a worker for crawl %lld: no free background worker slot",
								(long long) id),
						 errhint("Raise \"max_worker_processes\"; every running crawl needs one.")));
				last_slot_warning = now;
			}
		}
	}
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

/*
 * Run one step in its own transaction as the owner, security-restricted.
 * Returns false, with step->error set, when it raised an error (its work
 * is rolled back).
 */
static bool
kg_run_step(KgCrawlStep *step)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool ok = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, step->sql);
	PG_TRY();
	{
		Oid			save_user;
		int			save_sec;
		bool		isnull;

		PushActiveSnapshot(GetTransactionSnapshot());
		GetUserIdAndSecContext(&save_user, &save_sec);
		SetUserIdAndSecContext(step->owner,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "could not connect to the SPI manager");
		if (SPI_execute_with_args(step->sql, 1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(step->crawl_id)},
								  NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "crawl step did not return a row: %s", step->sql);
		step->result = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_finish();
		SetUserIdAndSecContext(save_user, save_sec);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		step->error = MemoryContextStrdup(TopMemoryContext, edata->message);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
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
 * KgCrawlerArgs) and exit.  SIGTERM ends it at once; the supervisor then
 * marks the crawl FAILED.
 */
void
kg_glue_crawler_main(Datum main_arg)
{
	KgCrawlerArgs args;
	KgCrawlStep step;
	MemoryContext cxt;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);
	pgstat_report_appname("kinesis_glue crawler");
	cxt = AllocSetContextCreate(TopMemoryContext, "kinesis_glue crawler", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);

	memset(&step, 0, sizeof(step));
	step.crawl_id = args.crawl_id;
	if (!kg_run_in_transaction("kinesis_glue: take crawl", kg_take_crawl_txn, &step) ||
		!OidIsValid(step.owner))
		proc_exit(0);			/* taken by another worker, or gone */
	ereport(DEBUG1, (errmsg_internal("kinesis_glue crawl %lld started", (long long) args.crawl_id)));

	step.sql = "SELECT glue._crawl_prepare($1)";
	if (kg_run_step(&step) && step.result >= 0)
	{
		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending)
			{
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
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
				(errmsg("kinesis_glue crawl %lld failed", (long long) args.crawl_id),
				 errdetail("%s", step.error)));
		(void) kg_run_in_transaction("kinesis_glue: fail crawl", kg_fail_crawl, &step);
	}
	proc_exit(0);
}
