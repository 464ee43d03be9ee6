/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The per-database kinesis_glue worker: a loop that runs the
 *		registered periodic tasks (tasks.c), each unit of work in its own
 *		transaction, and sleeps on its latch in between; and
 *		kg_run_in_transaction, the unit of work every task uses.
 *
 * The SQL functions of the worker registry are in worker_sql.c, the
 * utility hook in utility.c, the launch of dynamic workers in launch.c.
 *
 * Locking: KgShared->lock for slot fields only.  The worker holds no
 * snapshot, lock or transaction while it sleeps.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/kg_catalog.h"
#include "common/kg_guc.h"
#include "common/kg_shmem.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

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
