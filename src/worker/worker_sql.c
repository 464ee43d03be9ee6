/*-------------------------------------------------------------------------
 *
 * worker_sql.c
 *		The SQL functions of the database registry: the install script's
 *		kinesis_glue._register_database() (the database gets a worker once
 *		CREATE EXTENSION commits), kinesis_glue.wake_worker() and
 *		kinesis_glue.worker_status() behind the kinesis_glue.workers view.
 *
 * Locking: KgShared->lock for slot fields only; the launcher's latch is set after it
 * is released.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/tuplestore.h"

#include "common/kg_shmem.h"
#include "worker/kg_worker.h"

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
