/*-------------------------------------------------------------------------
 *
 * kg_shmem.h
 *		The shared-memory state of kinesis_glue.
 *
 * One KgSharedState struct holds the launcher's and the per-database
 * workers' registry.  The per-stream hot state lives in a shared hash table
 * (see streams/stream_state.h) and the per-backend producer slots in an
 * array sized by MaxBackends (see streams/inflight.c).
 *
 * Locking: KgShared->lock (an LWLock of our named tranche) protects the
 * database slots and the launcher fields.  Hold it only for a few field
 * reads or writes; never across I/O or a latch wait.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_SHMEM_H
#define KG_SHMEM_H

#include "storage/latch.h"
#include "storage/lwlock.h"

/* One database that has (or may have) the extension. */
typedef struct KgDatabaseSlot
{
	Oid			dboid;			/* InvalidOid: slot free */
	bool		wanted;			/* launcher should keep a worker running */
	bool		stopping;		/* database being dropped: do not relaunch */
	pid_t		worker_pid;		/* 0 while no worker runs */
	Latch	   *worker_latch;	/* set to wake the worker */
	TimestampTz last_launch;	/* for back-off after failures */
} KgDatabaseSlot;

typedef struct KgSharedState
{
	LWLock	   *lock;			/* protects everything below */
	LWLock	   *streams_lock;	/* protects the layout of the stream hash */
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	bool		rescan_databases;	/* launcher should re-probe all databases */
	int			ndatabases;		/* = kinesis_glue.max_databases */
	KgDatabaseSlot databases[FLEXIBLE_ARRAY_MEMBER];
} KgSharedState;

extern KgSharedState *KgShared;

extern void kg_shmem_init_hooks(void);
extern void kg_require_shmem(void);
extern KgDatabaseSlot *kg_find_database_slot(Oid dboid, bool create);
extern void kg_wake_launcher(void);
extern void kg_wake_worker(Oid dboid);

#endif							/* KG_SHMEM_H */
