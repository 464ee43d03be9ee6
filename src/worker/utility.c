/*-------------------------------------------------------------------------
 *
 * utility.c
 *		The utility hook of kinesis_glue.  Before a command runs: the DDL
 *		guard (ddl_guard.c) and DROP ROLE's check of owned objects
 *		(owned.c); for DROP DATABASE, ALTER DATABASE ... RENAME and CREATE
 *		DATABASE ... TEMPLATE, which refuse to run while any session, our
 *		worker included, is connected to the database, the database's
 *		worker and long-lived runners are stopped (templates.c) and come
 *		back if the command fails or once it is done (a dropped database's
 *		slot is freed and its job runs and crawls end with it).  After a
 *		DROP OWNED or REASSIGN OWNED: owned.c.
 *
 * Locking: KgShared->lock for slot fields only; latches and signals after it is
 * released.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"

#include "common/kg_shmem.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

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
 * The utility hook: the DDL guard and DROP ROLE's check first, the worker
 * of a database stepped aside around DROP / RENAME / copy, DROP OWNED and
 * REASSIGN OWNED handed to owned.c after they ran (see the file header).
 */
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
kg_utility_init_hook(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = kg_ProcessUtility;
}
