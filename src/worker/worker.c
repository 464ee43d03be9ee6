/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The per-database kinesis_glue worker: a loop that runs the
 *		registered periodic tasks (tasks.c), each unit of work in its own
 *		transaction, and sleeps on its latch in between.
 *
 * Also here: the SQL functions that register a database at CREATE
 * EXTENSION and wake the worker, and the utility hook that stops a
 * database's worker and mapping runners before DROP DATABASE, ALTER
 * DATABASE ... RENAME and CREATE DATABASE ... TEMPLATE (which refuse to
 * run while any session, our worker included, is connected to it; see
 * templates.c), runs the DDL guard (ddl_guard.c) first and hands DROP
 * OWNED / REASSIGN OWNED to owned.c after they ran.
 *
 * Locking: KgShared->lock for slot fields only.  The worker holds no
 * snapshot, lock or transaction while it sleeps.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "utils/lsyscache.h"
#include "common/kg_catalog.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/kg_guc.h"
#include "common/kg_shmem.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static MemoryContext WorkerLoopContext = NULL;
static char worker_dbname[NAMEDATALEN] = "?";

/* before_shmem_exit: clear our slot's PID and latch, and log the stop. */
static void
kg_worker_detach(int code, Datum arg)
{
	KgDatabaseSlot *slot;

	LWLockAcquire(KgShared->lock, LW_EXCLUSIVE);
	slot = kg_find_database_slot(MyDatabaseId, false);
	if (slot && slot->worker_pid == MyProcPid)
	{
		slot->worker_pid = 0;
		slot->worker_latch = NULL;
	}
	LWLockRelease(KgShared->lock);
	ereport(LOG, (errmsg("kinesis_glue worker for database \"%s\" stopped",
						 worker_dbname)));
}

/*
 * Run fn(arg) in a transaction of its own with a fresh snapshot.  An error
 * is logged and the transaction rolled back; the caller goes on.  Returns
 * true when fn committed.  Must be called outside a transaction.
 */
bool
kg_run_in_transaction(const char *what, KgTxnFn fn, void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool ok = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, what);
	PG_TRY();
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		fn(arg);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

/*
 * At the top of each round of a loop of this library (the launcher, the
 * workers, the runners): process interrupts (SIGTERM ends the process
 * here) and reload the configuration after a SIGHUP.
 */
void
kg_loop_interrupts(void)
{
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/* Version of the extension's SQL objects differs from the library's (until ALTER EXTENSION UPDATE) */
static bool worker_version_mismatch = false;

/*
 * Transaction body: does the extension still exist here?  Also notes
 * whether its SQL objects are of this library's version (the tasks wait
 * for ALTER EXTENSION ... UPDATE otherwise; one WARNING says so).
 */
static void
kg_check_extension(void *arg)
{
	char	   *name = get_database_name(MyDatabaseId);
	char	   *version;
	bool		mismatch;

	if (name)
		strlcpy(worker_dbname, name, sizeof(worker_dbname));
	*(bool *) arg = OidIsValid(kg_extension_lookup(&version));
	mismatch = *(bool *) arg && (version == NULL || strcmp(version, KG_EXTVERSION) != 0);
	if (mismatch && !worker_version_mismatch)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("kinesis_glue worker for database \"%s\" is idle: the extension is installed as version %s, but the loaded library is version %s",
						worker_dbname, version ? version : "(null)", KG_EXTVERSION),
				 errhint("Run ALTER EXTENSION kinesis_glue UPDATE as a superuser.")));
	worker_version_mismatch = mismatch;
}

/*
 * Leave for good: clear "wanted" so the launcher does not start us again,
 * then exit.
 */
static void
kg_worker_retire(const char *why)
{
	KgDatabaseSlot *slot;

	LWLockAcquire(KgShared->lock, LW_EXCLUSIVE);
	slot = kg_find_database_slot(MyDatabaseId, false);
	if (slot)
		slot->wanted = false;
	LWLockRelease(KgShared->lock);
	ereport(DEBUG1, (errmsg_internal("kinesis_glue worker retiring: %s", why)));
	proc_exit(0);
}

/* Transaction body: has this database become a template (or unconnectable)? */
static void
kg_check_template(void *arg)
{
	*(bool *) arg = !kg_database_wants_worker(MyDatabaseId);
}

/*
 * Step aside for good when this database became a template: stop our
 * mapping runners (nobody restarts them once we are gone), then retire.
 * The launcher starts a worker again when the flag is cleared.
 */
static void
kg_worker_leave_template(void)
{
	bool		is_template = false;

	if (!kg_run_in_transaction("kinesis_glue: check template", kg_check_template, &is_template) ||
		!is_template)
		return;
	ereport(LOG, (errmsg("kinesis_glue worker leaves database \"%s\": it is a template or does not allow connections",
						 worker_dbname)));
	kg_stop_database_workers(MyDatabaseId, "stopped: the database became a template or does not allow connections");
	kg_worker_retire("template database");
}

/*
 * Per-database worker entry point.  main_arg is the database OID.
 */
void
kg_worker_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	TimestampTz *next_run;
	KgDatabaseSlot *slot;
	bool		has_extension = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	LWLockAcquire(KgShared->lock, LW_EXCLUSIVE);
	slot = kg_find_database_slot(dboid, true);
	if (slot == NULL || (slot->worker_pid != 0 && slot->worker_pid != MyProcPid))
	{
		LWLockRelease(KgShared->lock);
		proc_exit(0);
	}
	slot->worker_pid = MyProcPid;
	slot->worker_latch = MyLatch;
	LWLockRelease(KgShared->lock);

	WorkerLoopContext = AllocSetContextCreate(TopMemoryContext,
											  "kinesis_glue worker loop",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(WorkerLoopContext);

	if (!kg_run_in_transaction("kinesis_glue: check extension",
							   kg_check_extension, &has_extension) ||
		!has_extension)
	{
		/* a probe of a database without the extension: leave quietly */
		LWLockAcquire(KgShared->lock, LW_EXCLUSIVE);
		slot->worker_pid = 0;
		slot->worker_latch = NULL;
		LWLockRelease(KgShared->lock);
		kg_worker_retire("extension not installed");
	}

	before_shmem_exit(kg_worker_detach, (Datum) 0);
	ereport(LOG, (errmsg("kinesis_glue worker for database \"%s\" started",
						 worker_dbname)));
	/* before any task: a copy of another database stops shared destinations */
	(void) kg_run_in_transaction("kinesis_glue: adopt a copied database", kg_adopt_copy, NULL);

	next_run = MemoryContextAllocZero(TopMemoryContext, sizeof(TimestampTz) * Max(kg_worker_ntasks(), 1));

	for (;;)
	{
		TimestampTz now;
		long		sleep_ms = kg_worker_naptime_ms;

		kg_loop_interrupts();

		MemoryContextReset(WorkerLoopContext);

		if (!kg_run_in_transaction("kinesis_glue: check extension",
								   kg_check_extension, &has_extension))
			has_extension = true;	/* transient error: keep going */
		if (!has_extension)
		{
			ereport(LOG, (errmsg("kinesis_glue extension dropped from database \"%s\"",
								 worker_dbname)));
			kg_worker_retire("extension dropped");
		}
		kg_worker_leave_template();

		for (int i = 0; i < kg_worker_ntasks() && !worker_version_mismatch; i++)
		{
			const KgTask *task = kg_worker_task(i);

			now = GetCurrentTimestamp();
			if (now >= next_run[i])
			{
				task->run();
				CHECK_FOR_INTERRUPTS();
				next_run[i] = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														  kg_worker_task_interval(task));
			}
		}

		now = GetCurrentTimestamp();
		for (int i = 0; i < kg_worker_ntasks() && !worker_version_mismatch; i++)
		{
			long		ms = (long) ((next_run[i] - now) / 1000);

			if (ms < sleep_ms)
				sleep_ms = Max(ms, 1);
		}

		if (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					  sleep_ms, PG_WAIT_EXTENSION) & WL_LATCH_SET)
		{
			/* woken (kg_wake_worker): the tasks that asked for it run now */
			for (int i = 0; i < kg_worker_ntasks(); i++)
				if (kg_worker_task(i)->run_when_woken)
					next_run[i] = 0;
		}
		ResetLatch(MyLatch);
	}
}

/*
 * Commit callback armed by kinesis_glue._register_database(): mark this
 * database wanted and wake the launcher, only once CREATE EXTENSION has
 * committed (a worker started earlier would not see the extension).
 */
static void
kg_register_at_commit(XactEvent event, void *arg)
{
	KgDatabaseSlot *slot;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	UnregisterXactCallback(kg_register_at_commit, arg);
	if (event != XACT_EVENT_COMMIT || KgShared == NULL)
		return;

	LWLockAcquire(KgShared->lock, LW_EXCLUSIVE);
	slot = kg_find_database_slot(MyDatabaseId, true);
	if (slot)
	{
		slot->wanted = true;
		slot->stopping = false;
		slot->last_launch = 0;
	}
	LWLockRelease(KgShared->lock);
	if (slot == NULL)
		ereport(WARNING,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("no kinesis_glue worker slot is free for database %u",
						MyDatabaseId),
				 errhint("Raise \"kinesis_glue.max_databases\" and restart the server.")));
	kg_wake_launcher();
}

PG_FUNCTION_INFO_V1(kg_register_database);

/*
 * kinesis_glue._register_database(): called by the install script.  Arms
 * the commit callback above; without preload it only warns, because the
 * extension may be created before the server is restarted with it.
 */
Datum
kg_register_database(PG_FUNCTION_ARGS)
{
	if (KgShared == NULL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("kinesis_glue is not loaded via \"shared_preload_libraries\""),
				 errdetail("Functions that need shared memory fail until it is."),
				 errhint("Add kinesis_glue to \"shared_preload_libraries\" in postgresql.conf and restart the server.")));
		PG_RETURN_VOID();
	}
	RegisterXactCallback(kg_register_at_commit, NULL);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(kg_wake_worker_sql);

/* kinesis_glue.wake_worker(): wake this database's worker now. */
Datum
kg_wake_worker_sql(PG_FUNCTION_ARGS)
{
	kg_require_shmem();
	kg_wake_worker(MyDatabaseId);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(kg_worker_status);

/*
 * kinesis_glue.worker_status(): one row per database slot in use:
 * (database oid, wanted, stopping, worker pid or NULL).
 */
Datum
kg_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	kg_require_shmem();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(KgShared->lock, LW_SHARED);
	for (int i = 0; i < KgShared->ndatabases; i++)
	{
		KgDatabaseSlot *slot = &KgShared->databases[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		if (slot->dboid == InvalidOid)
			continue;
		values[0] = ObjectIdGetDatum(slot->dboid);
		values[1] = BoolGetDatum(slot->wanted);
		values[2] = BoolGetDatum(slot->stopping);
		values[3] = Int32GetDatum(slot->worker_pid);
		nulls[3] = (slot->worker_pid == 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(KgShared->lock);
	return (Datum) 0;
}

/*
 * Stop the worker of a database about to be dropped, renamed or copied
 * (stopping true), so that the command does not fail with "being accessed
 * by other users", and its long-lived runners (kg_stop_database_workers);
 * or, stopping false, let them come back (the launcher restarts the
 * worker, which restarts its runners).  Returns the database's OID.
 */
static Oid
kg_stop_worker_for_drop(const char *dbname, bool stopping)
{
	Oid			dboid = get_database_oid(dbname, true);
	KgDatabaseSlot *slot;

	if (!OidIsValid(dboid) || KgShared == NULL)
		return InvalidOid;
	LWLockAcquire(KgShared->lock, LW_EXCLUSIVE);
	slot = kg_find_database_slot(dboid, false);
	if (slot)
	{
		slot->stopping = stopping;
		if (!stopping)
			slot->last_launch = 0;
	}
	LWLockRelease(KgShared->lock);
	/* nobody restarts them while the slot is stopping */
	if (stopping)
		kg_stop_database_workers(dboid, "stopped: the database is being dropped, renamed or copied");
	else
		kg_wake_launcher();
	return dboid;
}

/* Free the slot of a database that has been dropped. */
static void
kg_forget_database(Oid dboid)
{
	KgDatabaseSlot *slot;

	if (!OidIsValid(dboid) || KgShared == NULL)
		return;
	LWLockAcquire(KgShared->lock, LW_EXCLUSIVE);
	slot = kg_find_database_slot(dboid, false);
	if (slot && slot->worker_pid == 0)
		memset(slot, 0, sizeof(KgDatabaseSlot));
	LWLockRelease(KgShared->lock);
	kg_runner_forget_database(dboid);
}

/*
 * Start a dynamic background worker of this library that connects to a
 * database (the caller's arguments say which: main_arg, and extra, at most
 * BGW_EXTRALEN bytes) and notifies this process when it starts and stops.
 * The one launch path of the per-database workers (launcher.c) and the
 * runners (runner.c).  *handle is allocated in TopMemoryContext, so it
 * outlives the round that launched it; it is set to NULL when no worker
 * slot is free (returns false).
 */
bool
kg_launch_dynamic_worker(const char *function_name, const char *type, const char *name,
						 Datum main_arg, const void *extra, Size extra_size,
						 BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;
	MemoryContext old;
	bool		ok;

	Assert(extra_size <= BGW_EXTRALEN);
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "kinesis_glue");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function_name);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", type);
	worker.bgw_main_arg = main_arg;
	worker.bgw_notify_pid = MyProcPid;
	if (extra_size > 0)
		memcpy(worker.bgw_extra, extra, extra_size);
	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&worker, handle);
	MemoryContextSwitchTo(old);
	if (!ok)
		*handle = NULL;
	return ok;
}

static void
kg_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				  ProcessUtilityContext context, ParamListInfo params,
				  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	const char *volatile dropped_db = NULL;
	volatile Oid dropped_oid = InvalidOid;

	kg_ddl_guard(parsetree);
	/* a role that still owns kinesis_glue objects here cannot go */
	if (IsA(parsetree, DropRoleStmt))
		kg_owned_check_drop_role((DropRoleStmt *) parsetree);

	if (IsA(parsetree, DropdbStmt))
		dropped_db = ((DropdbStmt *) parsetree)->dbname;
	else if (IsA(parsetree, RenameStmt) &&
			 ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
		dropped_db = ((RenameStmt *) parsetree)->subname;
	else
		dropped_db = kg_copied_database(parsetree);	/* CREATE DATABASE ... TEMPLATE */

	if (dropped_db)
		dropped_oid = kg_stop_worker_for_drop(dropped_db, true);
	/* a dropped database takes its job runs and crawls with it */
	if (IsA(parsetree, DropdbStmt) && OidIsValid(dropped_oid))
		kg_runner_terminate_database(dropped_oid, false, "stopped: the database is being dropped");

	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		if (dropped_db)
			kg_stop_worker_for_drop(dropped_db, false);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (IsA(parsetree, DropdbStmt))
		kg_forget_database(dropped_oid);

	/* a renamed database keeps its OID: let the worker come back */
	if (dropped_db && IsA(parsetree, RenameStmt))
		kg_stop_worker_for_drop(((RenameStmt *) parsetree)->newname, false);

	/* streams of roles whose objects were just dropped or reassigned */
	if (IsA(parsetree, DropOwnedStmt) || IsA(parsetree, ReassignOwnedStmt))
		kg_owned_objects_done(parsetree);
	/* the template of a copy: let its worker come back */
	if (dropped_db && IsA(parsetree, CreatedbStmt))
		kg_stop_worker_for_drop(dropped_db, false);
}

/* Install the utility hook; called from _PG_init under preload. */
void
kg_worker_init_hooks(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = kg_ProcessUtility;
}
