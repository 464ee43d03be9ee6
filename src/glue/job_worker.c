/*-------------------------------------------------------------------------
 *
 * job_worker.c
 *		Running Glue job runs: the database worker's supervisor task starts
 *		one dynamic background worker ("kinesis_glue job") per run, up to
 *		kinesis_glue.max_job_runs at once, and the job worker executes it.
 *
 * A run is a row of glue.job_runs.  glue.start_job_run inserts it as
 * STARTING (or WAITING behind max_concurrent_runs); each round the
 * supervisor calls glue._job_supervise (job_runs.sql), which fails runs
 * interrupted by a crash or a dead worker (retrying them while retries
 * remain), releases queued runs, trims history and evaluates conditional
 * triggers, and returns the runs to launch and the workers to cancel (a
 * stop request, or a run past its timeout that its own timer missed).
 *
 * The job worker takes the run (RUNNING, its PID), then executes
 * glue._job_run_body in one transaction as the job's owner in a
 * security-restricted context, with the statement timeout armed for what
 * is left of the run's timeout.  The body marks the run SUCCEEDED in that
 * transaction, so output, bookmarks and state commit together.  When it
 * raises (error, cancel on stop, timeout) everything rolls back and
 * glue._job_run_end records STOPPED, TIMEOUT or FAILED (and a retry).
 *
 * Locking: none of its own; the run row is the state.  The supervisor's
 * worker handles live in its memory only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
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
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "common/kg_guc.h"
#include "common/kg_shmem.h"
#include "glue/jobs.h"
#include "worker/kg_worker.h"

typedef struct KgRunEntry
{
	int64		run_id;
	BackgroundWorkerHandle *handle;
} KgRunEntry;

static HTAB *Runs = NULL;
static TimestampTz last_slot_warning = 0;

typedef struct KgSuperviseResult
{
	List	   *launch;			/* int64 * */
	List	   *cancel;			/* int (pid) */
} KgSuperviseResult;

/* ------------------------------------------------------------------------
 * Supervisor (in the database worker)
 * ------------------------------------------------------------------------ */

static void
kg_job_supervise_txn(void *arg)
{
	KgSuperviseResult *res = (KgSuperviseResult *) arg;
	KgCatalogContext cc;
	int			n;

	kg_catalog_enter(&cc, false);
	n = kg_spi_exec("SELECT action, run_id, pid FROM glue._job_supervise($1)",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(kg_job_run_retention_s)}, NULL, false);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *action = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		Datum		pid = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull);
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		if (strcmp(action, "launch") == 0)
		{
			int64	   *p = palloc(sizeof(int64));

			*p = id;
			res->launch = lappend(res->launch, p);
		}
		else if (!isnull)
			res->cancel = lappend_int(res->cancel, DatumGetInt32(pid));
		MemoryContextSwitchTo(old);
	}
	kg_catalog_exit(&cc);
}

/* Transaction body: a run whose worker exited before taking it failed. */
static void
kg_fail_unstarted_run(void *arg)
{
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	kg_spi_exec("UPDATE glue.job_runs SET state = 'FAILED', completed_on = pg_catalog.clock_timestamp(), "
				"last_modified_on = pg_catalog.clock_timestamp(), "
				"error_message = 'the job worker exited before it started the run' "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 AND worker_pid IS NULL AND state = 'STARTING'",
				1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(*(int64 *) arg)}, NULL, false);
	kg_catalog_exit(&cc);
}

static bool
kg_launch_job_worker(KgRunEntry *e)
{
	KgJobArgs	args;

	args.dboid = MyDatabaseId;
	args.run_id = e->run_id;
	return kg_launch_dynamic_worker("kg_glue_job_main", "kinesis_glue job",
									psprintf("kinesis_glue job run %lld", (long long) e->run_id),
									&args, sizeof(args), &e->handle);
}

/*
 * Worker task: forget exited job workers, run the supervisor's round, cancel
 * runs to stop and start a worker for each run that waits, up to
 * kinesis_glue.max_job_runs.
 */
void
kg_glue_job_supervise(void)
{
	KgSuperviseResult res = {NIL, NIL};
	ListCell   *lc;
	HASH_SEQ_STATUS hs;
	KgRunEntry *e;
	List	   *gone = NIL;
	long		active;

	if (Runs == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(KgRunEntry);
		ctl.hcxt = TopMemoryContext;
		Runs = hash_create("kinesis_glue job workers", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	hash_seq_init(&hs, Runs);
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
		id = e->run_id;
		if (e->handle)
			pfree(e->handle);
		hash_search(Runs, &id, HASH_REMOVE, NULL);
		(void) kg_run_in_transaction("kinesis_glue: fail an unstarted job run", kg_fail_unstarted_run, &id);
	}
	list_free(gone);

	if (!kg_run_in_transaction("kinesis_glue: supervise job runs", kg_job_supervise_txn, &res))
		return;

	foreach(lc, res.cancel)
	{
		int			pid = lfirst_int(lc);

		/* the SQL checked that the PID is one of our job workers */
		if (pid > 0 && kill(pid, SIGINT) != 0 && errno != ESRCH)
			ereport(WARNING, (errmsg("could not cancel job worker %d: %m", pid)));
	}

	active = hash_get_num_entries(Runs);
	foreach(lc, res.launch)
	{
		int64		id = *(int64 *) lfirst(lc);
		bool		found;
		TimestampTz now = GetCurrentTimestamp();

		if (hash_search(Runs, &id, HASH_FIND, NULL) != NULL)
			continue;			/* launched, not yet connected */
		if (active >= kg_max_job_runs)
			break;				/* the others wait in STARTING */
		e = hash_search(Runs, &id, HASH_ENTER, &found);
		if (!kg_launch_job_worker(e))
		{
			hash_search(Runs, &id, HASH_REMOVE, NULL);
			if (TimestampDifferenceExceeds(last_slot_warning, now, 60 * 1000))
			{
				ereport(WARNING,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("could not start a worker for job run %lld: no free background worker slot",
								(long long) id),
						 errhint("Raise \"max_worker_processes\"; every running job run needs one.")));
				last_slot_warning = now;
			}
			break;
		}
		active++;
	}
	list_free_deep(res.launch);
	list_free(res.cancel);
}

/* ------------------------------------------------------------------------
 * Waking the supervisor when a start commits
 * ------------------------------------------------------------------------ */

static bool wake_at_commit = false;
static bool wake_callback_registered = false;

static void
kg_job_xact_callback(XactEvent event, void *arg)
{
	if (!wake_at_commit)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		wake_at_commit = false;
		kg_wake_worker(MyDatabaseId);
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE)
		wake_at_commit = false;
}

PG_FUNCTION_INFO_V1(kg_glue_wake_at_commit);

/*
 * glue._wake_at_commit(): wake this database's worker when the current
 * transaction commits (a worker woken before then would not see the new
 * runs yet, and would sleep until its next round).
 */
Datum
kg_glue_wake_at_commit(PG_FUNCTION_ARGS)
{
	kg_require_shmem();
	if (!wake_callback_registered)
	{
		RegisterXactCallback(kg_job_xact_callback, NULL);
		wake_callback_registered = true;
	}
	wake_at_commit = true;
	PG_RETURN_VOID();
}

/* ------------------------------------------------------------------------
 * Job worker
 * ------------------------------------------------------------------------ */

typedef struct KgJobRun
{
	int64		run_id;
	Oid			owner;
	int64		timeout_ms;		/* left of the run's timeout */
	bool		cancelled;
	char	   *error;			/* in TopMemoryContext */
} KgJobRun;

/* Transaction body: take the run (RUNNING, our PID); read owner and timeout. */
static void
kg_take_run(void *arg)
{
	KgJobRun   *run = (KgJobRun *) arg;
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	if (kg_spi_exec("UPDATE glue.job_runs r SET worker_pid = pg_catalog.pg_backend_pid(), state = 'RUNNING', "
					"running_on = pg_catalog.clock_timestamp(), last_modified_on = pg_catalog.clock_timestamp() "
					"FROM glue.jobs j WHERE j.job_id OPERATOR(pg_catalog.=) r.job_id "
					"AND r.run_id OPERATOR(pg_catalog.=) $1 AND r.worker_pid IS NULL AND r.state = 'STARTING' "
					"RETURNING j.owner::oid, (extract(epoch FROM r.timeout) * 1000)::int8",
					1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(run->run_id)}, NULL, false) == 1)
	{
		bool		isnull;

		run->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		run->timeout_ms = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	kg_catalog_exit(&cc);
}

/*
 * Execute the run in one transaction as its owner, security-restricted,
 * under its timeout.  Returns false, with run->error set, when it raised.
 */
static bool
kg_execute_run(KgJobRun *run)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool ok = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "glue job run");
	PG_TRY();
	{
		Oid			save_user;
		int			save_sec;

		PushActiveSnapshot(GetTransactionSnapshot());
		GetUserIdAndSecContext(&save_user, &save_sec);
		SetUserIdAndSecContext(run->owner,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		enable_timeout_after(STATEMENT_TIMEOUT, (int) Min(Max(run->timeout_ms, 1), INT_MAX));
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "could not connect to the SPI manager");
		if (SPI_execute_with_args("SELECT glue._job_run_body($1)", 1, (Oid[]) {INT8OID},
								  (Datum[]) {Int64GetDatum(run->run_id)}, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "glue job run %lld did not execute", (long long) run->run_id);
		SPI_finish();
		disable_timeout(STATEMENT_TIMEOUT, false);
		SetUserIdAndSecContext(save_user, save_sec);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		QueryCancelPending = false;
		AbortCurrentTransaction();
		run->cancelled = (edata->sqlerrcode == ERRCODE_QUERY_CANCELED);
		run->error = MemoryContextStrdup(TopMemoryContext, edata->message);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

/* Transaction body: record how a run that raised ended. */
static void
kg_end_run(void *arg)
{
	KgJobRun   *run = (KgJobRun *) arg;
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	kg_spi_exec("SELECT glue._job_run_end($1, $2, $3)", 3, (Oid[]) {INT8OID, BOOLOID, TEXTOID},
				(Datum[]) {Int64GetDatum(run->run_id), BoolGetDatum(run->cancelled), CStringGetTextDatum(run->error)},
				NULL, false);
	kg_catalog_exit(&cc);
}

/*
 * Entry point of a job worker: execute one run (bgw_extra holds a
 * KgJobArgs) and exit.  SIGINT cancels the run (stop, timeout); SIGTERM
 * ends the worker at once, and the supervisor then marks the run FAILED.
 */
void
kg_glue_job_main(Datum main_arg)
{
	KgJobArgs	args;
	KgJobRun	run;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	pqsignal(SIGINT, StatementCancelHandler);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);
	pgstat_report_appname("kinesis_glue job");

	memset(&run, 0, sizeof(run));
	run.run_id = args.run_id;
	if (!kg_run_in_transaction("kinesis_glue: take job run", kg_take_run, &run) || !OidIsValid(run.owner))
		proc_exit(0);			/* stopped before it started, or gone */
	ereport(DEBUG1, (errmsg_internal("kinesis_glue job run %lld started", (long long) run.run_id)));

	if (!kg_execute_run(&run))
	{
		ereport(LOG,
				(errmsg("kinesis_glue job run %lld ended with an error", (long long) run.run_id),
				 errdetail("%s", run.error)));
		(void) kg_run_in_transaction("kinesis_glue: end job run", kg_end_run, &run);
	}
	kg_wake_worker(MyDatabaseId);	/* queued runs and conditional triggers */
	proc_exit(0);
}
