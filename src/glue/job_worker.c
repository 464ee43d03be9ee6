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
 * The job workers are runners of the shared registry (worker/kg_runner.h):
 * a restarted database worker adopts them, a stop or a timeout cancels the
 * run through the registry entry (never a PID read from the run row), and
 * a script that ignores the cancel is terminated after
 * kinesis_glue.runner_grace, the run ending as STOPPED or TIMEOUT with the
 * reason.
 *
 * Locking: none of its own; the run row is the state, the registry the
 * truth about workers.
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
#include "common/kg_shmem.h"
#include "glue/glue.h"
#include "glue/jobs.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

typedef struct KgSuperviseResult
{
	MemoryContext cxt;			/* the task's: freed with it, whatever happens */
	List	   *launch;			/* KgRunWanted * */
	List	   *stop;			/* KgRunWanted *: runs to cancel */
} KgSuperviseResult;

typedef struct KgRunWanted
{
	int64		run_id;
	Oid			owner;
	bool		timeout;		/* stop: past its timeout (else a stop request) */
} KgRunWanted;

static void kg_reap_job_runner(const KgRunnerInfo *info, const char *reason);

static const KgRunnerKind job_runner = {
	.name = "job run",
	.function_name = "kg_glue_job_main",
	.bgw_type = "kinesis_glue job",
	.restart = false,
	.reap = kg_reap_job_runner,
};

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
	n = kg_spi_exec("SELECT s.action, s.run_id, j.owner::oid FROM glue._job_supervise($1) s "
					"JOIN glue.job_runs r USING (run_id) JOIN glue.jobs j ON j.job_id OPERATOR(pg_catalog.=) r.job_id",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(kg_job_run_retention_s)}, NULL, false);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *action = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext old = MemoryContextSwitchTo(res->cxt);
		KgRunWanted *w = palloc0(sizeof(KgRunWanted));

		w->run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		w->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		w->timeout = strcmp(action, "timeout") == 0;
		if (strcmp(action, "launch") == 0)
			res->launch = lappend(res->launch, w);
		else
			res->stop = lappend(res->stop, w);
		MemoryContextSwitchTo(old);
	}
	kg_catalog_exit(&cc);
}

/*
 * Reap callback (in a transaction): a run whose worker exited before taking
 * it failed; a run whose worker the supervisor terminated (it ignored the
 * cancel of its stop or timeout) ends as STOPPED or TIMEOUT with the reason.
 */
static void
kg_reap_job_runner(const KgRunnerInfo *info, const char *reason)
{
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	kg_spi_exec("UPDATE glue.job_runs SET state = 'FAILED', completed_on = pg_catalog.clock_timestamp(), "
				"last_modified_on = pg_catalog.clock_timestamp(), "
				"error_message = 'the job worker exited before it started the run' "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 AND worker_pid IS NULL AND state = 'STARTING'",
				1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(info->id)}, NULL, false);
	if (info->terminated)
		kg_spi_exec("SELECT glue._job_run_end($1, true, $2), glue._job_run_note($1, $2)",
					2, (Oid[]) {INT8OID, TEXTOID},
					(Datum[]) {Int64GetDatum(info->id), CStringGetTextDatum(reason)}, NULL, false);
	kg_catalog_exit(&cc);
}

/*
 * Worker task: reap exited job workers, run the supervisor's round, cancel
 * runs to stop (terminating those that ignore it), and want a runner for
 * each run that waits; the registry starts them within
 * kinesis_glue.max_job_runs and the runner caps.
 */
void
kg_glue_job_supervise(void)
{
	KgSuperviseResult res = {CurrentMemoryContext, NIL, NIL};
	ListCell   *lc;

	kg_runner_round_begin(&job_runner);
	if (!kg_run_in_transaction("kinesis_glue: supervise job runs", kg_job_supervise_txn, &res))
	{
		kg_runner_round_end(&job_runner, false);
		list_free_deep(res.launch);	/* what the failed round got so far */
		list_free_deep(res.stop);
		return;
	}
	foreach(lc, res.stop)
	{
		KgRunWanted *w = lfirst(lc);

		kg_runner_stop(&job_runner, w->run_id, 0,
					   w->timeout ? "cancelled: the run passed its timeout" : "cancelled: a stop was requested");
	}
	foreach(lc, res.launch)
	{
		KgRunWanted *w = lfirst(lc);
		KgRunnerState st = kg_runner_want_state(&job_runner, w->run_id, 0);

		/* one already starting is wanted again, so that it stays registered */
		if (st != KG_RUNNER_LAUNCHING && st != KG_RUNNER_RUNNING && st != KG_RUNNER_STOPPING &&
			kg_runner_count(&job_runner) >= kg_max_job_runs)
			break;				/* the others wait in STARTING */
		(void) kg_runner_want(&job_runner, w->run_id, 0, 0, w->owner);
	}
	kg_runner_round_end(&job_runner, false);
	list_free_deep(res.launch);
	list_free_deep(res.stop);
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
	KgOwnerCall call = {0};

	call.owner = run->owner;
	call.sql = "SELECT glue._job_run_body($1)";
	call.nargs = 1;
	call.argtypes = (Oid[]) {INT8OID};
	call.args = (Datum[]) {Int64GetDatum(run->run_id)};
	call.timeout_ms = Max(run->timeout_ms, 1);
	call.own_transaction = true;
	if (kg_run_as_owner(&call))
		return true;
	run->cancelled = (call.sqlerrcode == ERRCODE_QUERY_CANCELED);
	run->error = MemoryContextStrdup(TopMemoryContext, call.error);
	return false;
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
 * Entry point of a job worker: execute one run (bgw_extra holds its
 * KgRunnerInfo) and exit.  SIGINT cancels the run (stop, timeout); SIGTERM
 * ends the worker at once, and the supervisor then marks the run FAILED.
 */
void
kg_glue_job_main(Datum main_arg)
{
	KgRunnerInfo info;
	KgJobRun	run;

	kg_runner_start(&info);

	memset(&run, 0, sizeof(run));
	run.run_id = info.id;
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
