/*-------------------------------------------------------------------------
 *
 * templates.c
 *		Databases used as templates: what the per-database worker and its
 *		runners do so that CREATE DATABASE ... TEMPLATE and IS_TEMPLATE
 *		databases work as PostgreSQL users expect.
 *
 * CREATE DATABASE refuses to copy a database that has other sessions, and
 * our worker and its long-lived runners (event source mappings, delivery
 * streams, video stream processors) are always connected.
 * The utility hook (worker.c) therefore stops them before CREATE DATABASE
 * ... TEMPLATE src, as before DROP DATABASE, and lets them come back after
 * the command, whether it worked or not.  A database marked IS_TEMPLATE
 * (or with ALLOW_CONNECTIONS false) gets no worker: its worker notices the
 * flag within one round and retires, stopping its runners.  The launcher
 * notices new databases, and databases that stop being templates, within
 * one round (launcher.c).
 *
 * A copy inherits its template's catalogs; when its worker starts it
 * adopts the copy (kg_adopt_copy).  Shard iterators are bound to the
 * database OID (iterator.c), and leases, sessions and job runs name
 * backends, which cannot be connected to the template while it is copied.
 *
 * Job runs and crawls are not stopped: they are a user's work in progress,
 * and CREATE DATABASE reports them as other sessions, as it would any user
 * session.
 *
 * Locking: KgShared->lock (shared) to read the worker's PID, the runner
 * registry's lock inside kg_runner_*; none is held while waiting.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/htup_details.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "postmaster/bgworker.h"
#include "utils/syscache.h"

#include "common/kg_catalog.h"
#include "common/kg_shmem.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

#define KG_STOP_WAIT_MS 5000

/* The PID of dboid's per-database worker (database registry); 0 if none or us. */
static pid_t
kg_database_worker_pid(Oid dboid)
{
	KgDatabaseSlot *slot;
	pid_t		pid = 0;

	if (KgShared == NULL)
		return 0;
	LWLockAcquire(KgShared->lock, LW_SHARED);
	slot = kg_find_database_slot(dboid, false);
	if (slot && slot->worker_pid != MyProcPid)
		pid = slot->worker_pid;
	LWLockRelease(KgShared->lock);
	return pid;
}

/*
 * Stop this library's per-database worker of dboid (unless the caller is
 * that worker), found in the database registry, then its long-lived
 * runners (mappings, deliveries, processors), through the runner registry
 * (kg_runner_terminate_database), each with SIGTERM and a wait of up to
 * 5 s.  The caller has made sure nobody restarts them (the database slot
 * is "stopping", or the worker calling this is retiring); the worker goes
 * first, so it launches nothing meanwhile.  Job runs and crawls are left
 * alone.  reason shows in kinesis_glue.runners.
 */
void
kg_stop_database_workers(Oid dboid, const char *reason)
{
	pid_t		pid;

	if (!OidIsValid(dboid))
		return;
	pid = kg_database_worker_pid(dboid);
	if (pid != 0)
	{
		(void) kill(pid, SIGTERM);
		for (int waited = 0; waited < KG_STOP_WAIT_MS && kg_database_worker_pid(dboid) == pid; waited += 10)
		{
			pg_usleep(10000L);
			CHECK_FOR_INTERRUPTS();
		}
	}
	kg_runner_terminate_database(dboid, true, reason);
	(void) kg_runner_wait_database(dboid, true, KG_STOP_WAIT_MS);
}

/*
 * The source database a utility statement copies, or NULL: CREATE
 * DATABASE ... TEMPLATE name (template1 when no TEMPLATE is given).
 */
const char *
kg_copied_database(Node *parsetree)
{
	ListCell   *lc;

	if (!IsA(parsetree, CreatedbStmt))
		return NULL;
	foreach(lc, ((CreatedbStmt *) parsetree)->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
			return defGetString(opt);
	}
	return "template1";
}

/*
 * Transaction body, run by the worker as it starts: adopt a copy made with
 * CREATE DATABASE ... TEMPLATE (kinesis_glue._adopt_copy() records this
 * database's OID and stops delivery streams whose destination the copy
 * would share with its template).  A no-op in the original database.
 */
void
kg_adopt_copy(void *arg)
{
	KgCatalogContext cc;

	kg_catalog_enter(&cc, false);
	(void) kg_spi_exec("SELECT kinesis_glue._adopt_copy()", 0, NULL, NULL, NULL, false);
	kg_catalog_exit(&cc);
}

/*
 * May database dboid have a worker?  Not when it is a template or does not
 * allow connections (as autovacuum's launcher decides for templates, we
 * decide for both: a worker would keep the template busy).  Needs a
 * transaction.
 */
bool
kg_database_wants_worker(Oid dboid)
{
	HeapTuple	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	bool		ok;

	if (!HeapTupleIsValid(tup))
		return false;
	ok = ((Form_pg_database) GETSTRUCT(tup))->datallowconn &&
		!((Form_pg_database) GETSTRUCT(tup))->datistemplate;
	ReleaseSysCache(tup);
	return ok;
}
