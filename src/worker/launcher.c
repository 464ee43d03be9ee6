/*-------------------------------------------------------------------------
 *
 * launcher.c
 *		The kinesis_glue launcher: one static background worker that keeps
 *		one per-database worker running in every database that has the
 *		extension.
 *
 * At start the launcher probes every connectable, non-template database by
 * starting a worker there; a worker that finds no extension clears its
 * slot's "wanted" flag and exits.  Afterwards each round probes the
 * databases that became connectable non-templates since the previous round
 * (new databases, copies made with CREATE DATABASE ... TEMPLATE, templates
 * that are templates no more), so a copy that already holds the extension
 * gets its worker within a round.  CREATE EXTENSION marks its database
 * wanted at commit and wakes the launcher, so a worker starts within one
 * launcher round without a restart.  A worker that exits while still wanted
 * (an error) is relaunched after a pause.  DROP DATABASE, RENAME and CREATE
 * DATABASE ... TEMPLATE are handled by a utility hook that stops the worker
 * first (see worker.c and templates.c); a worker whose database becomes a
 * template retires.
 *
 * Locking: KgShared->lock around slot reads and writes only; the launcher
 * never holds it, a snapshot or a transaction while it sleeps.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/kg_guc.h"
#include "common/kg_shmem.h"
#include "worker/kg_worker.h"

/* The launcher's handles of the workers it started, by database slot. */
static BackgroundWorkerHandle **worker_handles = NULL;
static TimestampTz last_no_slot_warning = 0;

/* The databases that were connectable and no template at the last scan. */
static Oid *eligible_dbs = NULL;
static int	n_eligible = 0;

/* Register the static launcher; called from _PG_init in the postmaster. */
void
kg_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "kinesis_glue");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "kg_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "kinesis_glue launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "kinesis_glue launcher");
	RegisterBackgroundWorker(&worker);
}

/* before_shmem_exit: forget the launcher's PID and latch. */
static void
kg_launcher_detach(int code, Datum arg)
{
	LWLockAcquire(KgShared->lock, LW_EXCLUSIVE);
	if (KgShared->launcher_pid == MyProcPid)
	{
		KgShared->launcher_pid = 0;
		KgShared->launcher_latch = NULL;
	}
	LWLockRelease(KgShared->lock);
	ereport(LOG, (errmsg("kinesis_glue launcher stopped")));
}

/* Was dboid connectable and no template at the previous scan? */
static bool
kg_was_eligible(Oid dboid)
{
	for (int i = 0; i < n_eligible; i++)
		if (eligible_dbs[i] == dboid)
			return true;
	return false;
}

/* The connectable, non-template databases a catalog scan found. */
typedef struct KgEligible
{
	Oid		   *oids;			/* in TopMemoryContext */
	int			n;
} KgEligible;

/* Transaction body: scan pg_database for connectable non-templates. */
static void
kg_scan_databases(void *arg)
{
	KgEligible *e = (KgEligible *) arg;
	int			cap = 64;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	e->oids = MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * cap);
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (!db->datallowconn || db->datistemplate)
			continue;
		if (e->n == cap)
		{
			cap *= 2;
			e->oids = repalloc(e->oids, sizeof(Oid) * cap);
		}
		e->oids[e->n++] = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * Mark connectable, non-template databases as wanted, so that a worker
 * probes them: every one when all is true (at start, when asked, or after
 * the registry was full), else only those that were not eligible at the
 * previous scan (new databases, copies made with CREATE DATABASE ...
 * TEMPLATE, databases that stopped being templates).  The scan runs in its
 * own short transaction (kg_run_in_transaction: a failure is logged and
 * the round skipped); the slots are marked after it, so the shared lock is
 * never held across the catalog scan.  The launcher calls it every round,
 * so a copy that already holds the extension gets its worker within about
 * kinesis_glue.launcher_naptime.  When the registry is full it warns (once
 * a minute) and asks for a full scan again, so that a database whose slot
 * frees up later still gets its probe.
 */
static void
kg_probe_databases(bool all)
{
	static TimestampTz last_full_warning = 0;
	KgEligible	now = {NULL, 0};
	int			missed = 0;

	if (!kg_run_in_transaction("kinesis_glue: list databases", kg_scan_databases, &now))
	{
		if (now.oids)
			pfree(now.oids);
		return;
	}

	LWLockAcquire(KgShared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < now.n; i++)
	{
		KgDatabaseSlot *slot;

		if (!all && kg_was_eligible(now.oids[i]))
			continue;
		slot = kg_find_database_slot(now.oids[i], true);
		if (slot == NULL)
			missed++;
		else if (!slot->stopping)
			slot->wanted = true;
	}
	if (all || missed > 0)
		KgShared->rescan_databases = missed > 0;
	LWLockRelease(KgShared->lock);

	if (eligible_dbs)
		pfree(eligible_dbs);
	eligible_dbs = now.oids;
	n_eligible = now.n;

	if (missed > 0 && TimestampDifferenceExceeds(last_full_warning, GetCurrentTimestamp(), 60 * 1000))
	{
		ereport(WARNING,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("kinesis_glue cannot watch %d databases: all %d database slots are in use",
						missed, KgShared->ndatabases),
				 errhint("Raise \"kinesis_glue.max_databases\" and restart the server.")));
		last_full_warning = GetCurrentTimestamp();
	}
}

/* Start the worker of the database in slot i; false when no slot is free. */
static bool
kg_launch_worker(int i, Oid dboid)
{
	char		name[BGW_MAXLEN];

	snprintf(name, sizeof(name), "kinesis_glue worker %u", dboid);
	return kg_launch_dynamic_worker("kg_worker_main", "kinesis_glue worker", name,
									ObjectIdGetDatum(dboid), NULL, 0, &worker_handles[i]);
}

/* One launcher round: reap stopped workers, start missing ones. */
static void
kg_launcher_round(void)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < KgShared->ndatabases; i++)
	{
		KgDatabaseSlot *slot = &KgShared->databases[i];
		Oid			dboid;
		bool		wanted;
		bool		stopping;
		TimestampTz last_launch;

		LWLockAcquire(KgShared->lock, LW_SHARED);
		dboid = slot->dboid;
		wanted = slot->wanted;
		stopping = slot->stopping;
		last_launch = slot->last_launch;
		LWLockRelease(KgShared->lock);

		if (worker_handles[i] != NULL)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(worker_handles[i], &pid) != BGWH_STOPPED)
				continue;
			pfree(worker_handles[i]);
			worker_handles[i] = NULL;
		}
		if (dboid == InvalidOid)
			continue;
		if (!wanted && !stopping)
		{
			/* no extension there: free the slot */
			LWLockAcquire(KgShared->lock, LW_EXCLUSIVE);
			if (slot->dboid == dboid && !slot->wanted && !slot->stopping)
				slot->dboid = InvalidOid;
			LWLockRelease(KgShared->lock);
			continue;
		}
		if (stopping || !wanted)
			continue;
		if (!TimestampDifferenceExceeds(last_launch, now, kg_launcher_naptime_ms))
			continue;

		LWLockAcquire(KgShared->lock, LW_EXCLUSIVE);
		slot->last_launch = now;
		LWLockRelease(KgShared->lock);

		if (!kg_launch_worker(i, dboid))
		{
			if (TimestampDifferenceExceeds(last_no_slot_warning, now, 60 * 1000))
			{
				ereport(WARNING,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("could not start a kinesis_glue worker for database %u: no free background worker slot", dboid),
						 errhint("Raise \"max_worker_processes\" and restart the server; the launcher keeps retrying.")));
				last_no_slot_warning = now;
			}
		}
	}
}

/*
 * Launcher entry point.  Exits at once if another launcher is running (a
 * leftover after a restart of this one).
 */
void
kg_launcher_main(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	LWLockAcquire(KgShared->lock, LW_EXCLUSIVE);
	if (KgShared->launcher_pid != 0)
	{
		LWLockRelease(KgShared->lock);
		ereport(LOG, (errmsg("kinesis_glue launcher already running")));
		proc_exit(0);
	}
	KgShared->launcher_pid = MyProcPid;
	KgShared->launcher_latch = MyLatch;
	KgShared->rescan_databases = true;
	LWLockRelease(KgShared->lock);
	before_shmem_exit(kg_launcher_detach, (Datum) 0);

	worker_handles = MemoryContextAllocZero(TopMemoryContext,
											sizeof(BackgroundWorkerHandle *) * KgShared->ndatabases);
	ereport(LOG, (errmsg("kinesis_glue launcher started")));
	pgstat_report_activity(STATE_IDLE, NULL);

	for (;;)
	{
		bool		rescan;

		kg_loop_interrupts();

		LWLockAcquire(KgShared->lock, LW_SHARED);
		rescan = KgShared->rescan_databases;
		LWLockRelease(KgShared->lock);
		kg_probe_databases(rescan);

		kg_launcher_round();

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 kg_launcher_naptime_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
