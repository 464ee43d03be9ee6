/*-------------------------------------------------------------------------
 *
 * templates.c
 *		Databases used as templates: what the per-database worker and its
 *		runners do so that CREATE DATABASE ... TEMPLATE and IS_TEMPLATE
 *		databases work as PostgreSQL users expect.
 *
 * CREATE DATABASE refuses to copy a database that has other sessions, and
 * our worker and its event source mapping runners are always connected.
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
 * Locking: ProcArrayLock (shared) while listing the processes of a
 * database; no lock is held while signalling or waiting.
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
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/syscache.h"

#include "common/kg_catalog.h"
#include "worker/kg_worker.h"

/* The background worker types that belong to a database and step aside. */
static const char *const kg_stepping_aside_types[] = {
	"kinesis_glue worker",
	"kinesis_glue mapping runner",
	"kinesis_glue delivery",
	"kinesis_glue video processor",
};

/* Is pid a background worker of one of the types above? */
static bool
kg_is_stepping_aside_type(pid_t pid)
{
	const char *type = GetBackgroundWorkerTypeByPid(pid);

	if (type == NULL)
		return false;
	for (int i = 0; i < lengthof(kg_stepping_aside_types); i++)
		if (strcmp(type, kg_stepping_aside_types[i]) == 0)
			return true;
	return false;
}

/*
 * List the PIDs of this library's workers and runners connected to dboid,
 * except MyProcPid; returns how many (at most max).
 */
static int
kg_list_database_workers(Oid dboid, pid_t *pids, int max)
{
	int			n = 0;
	int			cand = 0;
	pid_t	   *all = palloc(sizeof(pid_t) * ProcGlobal->allProcCount);

	LWLockAcquire(ProcArrayLock, LW_SHARED);
	for (uint32 i = 0; i < ProcGlobal->allProcCount; i++)
	{
		PGPROC	   *proc = &ProcGlobal->allProcs[i];

		if (proc->pid != 0 && proc->pid != MyProcPid && proc->databaseId == dboid &&
			proc->isBackgroundWorker)
			all[cand++] = proc->pid;
	}
	LWLockRelease(ProcArrayLock);

	for (int i = 0; i < cand && n < max; i++)
		if (kg_is_stepping_aside_type(all[i]))
			pids[n++] = all[i];
	pfree(all);
	return n;
}

/*
 * Stop this library's worker and mapping runners connected to dboid
 * (SIGTERM), and wait up to 5 s for them to go.  The caller has made sure
 * nobody restarts them (the database slot is "stopping", or the worker
 * calling this is retiring).  Job and crawler workers are left alone.
 */
void
kg_stop_database_workers(Oid dboid)
{
	pid_t		pids[64];
	int			n;

	if (!OidIsValid(dboid))
		return;
	n = kg_list_database_workers(dboid, pids, lengthof(pids));
	for (int i = 0; i < n; i++)
		(void) kill(pids[i], SIGTERM);
	for (int tries = 0; n > 0 && tries < 500; tries++)
	{
		pg_usleep(10000);
		CHECK_FOR_INTERRUPTS();
		n = kg_list_database_workers(dboid, pids, lengthof(pids));
	}
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
