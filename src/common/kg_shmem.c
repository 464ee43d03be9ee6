/*-------------------------------------------------------------------------
 *
 * kg_shmem.c
 *		Shared memory of kinesis_glue: sizing, initialisation and the
 *		database registry used by the launcher and the per-database workers.
 *
 * Shared memory is requested in shmem_request_hook (PostgreSQL 15) and
 * attached in shmem_startup_hook, so the library must be listed in
 * shared_preload_libraries; kg_require_shmem() turns its absence into a
 * clear error (SQLSTATE 55000) for every SQL function that needs it.  The
 * runtime and the components add their own parts with kg_shmem_register()
 * while the library is preloaded; this file sizes and attaches them in
 * registration order and names none of them.
 *
 * Locking: KgShared->lock guards the database slots and launcher fields.
 * Latches are set after the lock is released.  A crash resets all of this;
 * nothing here is the truth about durable state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "miscadmin.h"

#include "common/kg_guc.h"
#include "common/kg_shmem.h"

KgSharedState *KgShared = NULL;

#define KG_MAX_SHMEM_PARTS 16

/* the registered parts (set in _PG_init, inherited by every process) */
static const KgShmemPart *shmem_parts[KG_MAX_SHMEM_PARTS];
static int	nshmem_parts = 0;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

#define KG_LWLOCK_TRANCHE "kinesis_glue"

/* Size of the KgSharedState struct with its database slots. */
static Size
kg_shared_state_size(void)
{
	return add_size(offsetof(KgSharedState, databases),
					mul_size(kg_max_databases, sizeof(KgDatabaseSlot)));
}

/* shmem_request_hook: reserve our memory and LWLocks. */
static void
kg_shmem_request(void)
{
	Size		size;

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	size = kg_shared_state_size();
	for (int i = 0; i < nshmem_parts; i++)
	{
		size = add_size(size, shmem_parts[i]->size());
		if (shmem_parts[i]->nlwlocks > 0)
			RequestNamedLWLockTranche(shmem_parts[i]->name, shmem_parts[i]->nlwlocks);
	}
	RequestAddinShmemSpace(size);
	RequestNamedLWLockTranche(KG_LWLOCK_TRANCHE, 1);
}

/* shmem_startup_hook: attach to (and on first use initialise) our memory. */
static void
kg_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	KgShared = NULL;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	KgShared = ShmemInitStruct("kinesis_glue state", kg_shared_state_size(),
							   &found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche(KG_LWLOCK_TRANCHE);

		memset(KgShared, 0, kg_shared_state_size());
		KgShared->lock = &locks[0].lock;
		KgShared->ndatabases = kg_max_databases;
		KgShared->rescan_databases = true;
	}
	for (int i = 0; i < nshmem_parts; i++)
		shmem_parts[i]->init();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Add a part of shared memory (see KgShmemPart).  Called from the init
 * functions in _PG_init, before kg_shmem_init_hooks; ignored unless the
 * library is being preloaded (a library loaded later gets no shared
 * memory, and kg_require_shmem() says so).  part must stay valid: a
 * static const.
 */
void
kg_shmem_register(const KgShmemPart *part)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	if (nshmem_parts >= KG_MAX_SHMEM_PARTS)
		elog(ERROR, "too many kinesis_glue shared memory parts");
	shmem_parts[nshmem_parts++] = part;
}

/* Install the shared memory hooks; called from _PG_init after the parts registered. */
void
kg_shmem_init_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = kg_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = kg_shmem_startup;
}

/*
 * Fail with SQLSTATE 55000 unless our shared memory exists, i.e. unless the
 * library was loaded through shared_preload_libraries.
 */
void
kg_require_shmem(void)
{
	if (KgShared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("kinesis_glue must be loaded via \"shared_preload_libraries\""),
				 errhint("Add kinesis_glue to the \"shared_preload_libraries\" setting in postgresql.conf and restart the server.")));
}

/*
 * Return the slot of a database, optionally claiming a free one.
 * Caller must hold KgShared->lock (exclusive when create is true).
 * Returns NULL when absent (or when no slot is free).
 */
KgDatabaseSlot *
kg_find_database_slot(Oid dboid, bool create)
{
	KgDatabaseSlot *free_slot = NULL;

	for (int i = 0; i < KgShared->ndatabases; i++)
	{
		KgDatabaseSlot *slot = &KgShared->databases[i];

		if (slot->dboid == dboid)
			return slot;
		if (slot->dboid == InvalidOid && free_slot == NULL)
			free_slot = slot;
	}
	if (create && free_slot != NULL)
	{
		memset(free_slot, 0, sizeof(KgDatabaseSlot));
		free_slot->dboid = dboid;
		return free_slot;
	}
	return NULL;
}

/* Set the launcher's latch, if a launcher runs. */
void
kg_wake_launcher(void)
{
	Latch	   *latch;

	if (KgShared == NULL)
		return;
	LWLockAcquire(KgShared->lock, LW_SHARED);
	latch = KgShared->launcher_latch;
	LWLockRelease(KgShared->lock);
	if (latch)
		SetLatch(latch);
}

/* Set the latch of the worker of a database, if one runs. */
void
kg_wake_worker(Oid dboid)
{
	Latch	   *latch = NULL;
	KgDatabaseSlot *slot;

	if (KgShared == NULL)
		return;
	LWLockAcquire(KgShared->lock, LW_SHARED);
	slot = kg_find_database_slot(dboid, false);
	if (slot)
		latch = slot->worker_latch;
	LWLockRelease(KgShared->lock);
	if (latch)
		SetLatch(latch);
}
