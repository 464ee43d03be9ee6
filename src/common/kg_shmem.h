/*-------------------------------------------------------------------------
 *
 * kg_shmem.h
 *		The shared-memory state of kinesis_glue.
 *
 * One KgSharedState struct holds the launcher's and the per-database
 * workers' registry.  Everything else in shared memory belongs to the part
 * that registers it with kg_shmem_register() from its init function in
 * _PG_init: the runner registry (worker/runner.c), the per-stream hot state
 * and producer slots (streams/stream_state.c), the throughput meters
 * (streams/throughput.c), the video stream state (video/video_state.c).
 * This file knows none of them.
 *
 * Locking: KgShared->lock (an LWLock of our named tranche) protects the
 * database slots and the launcher fields.  Hold it only for a few field
 * reads or writes; never across I/O or a latch wait.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_SHMEM_H
#define KG_SHMEM_H

#include "datatype/timestamp.h"
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
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	bool		rescan_databases;	/* launcher should re-probe all databases */
	int			ndatabases;		/* = kinesis_glue.max_databases */
	KgDatabaseSlot databases[FLEXIBLE_ARRAY_MEMBER];
} KgSharedState;

extern KgSharedState *KgShared;

/*
 * A registered part of shared memory: size() bytes (and nlwlocks LWLocks in
 * a tranche of its own name, when nlwlocks > 0) are requested at server
 * start; init() runs in every process that attaches, holding
 * AddinShmemInitLock, and calls ShmemInitStruct/ShmemInitHash itself
 * (initialising the memory when it was not found).
 */
typedef struct KgShmemPart
{
	const char *name;			/* also the LWLock tranche name */
	Size		(*size) (void);
	void		(*init) (void);
	int			nlwlocks;
} KgShmemPart;

extern void kg_shmem_register(const KgShmemPart *part);
extern void kg_shmem_init_hooks(void);
extern void kg_require_shmem(void);
extern KgDatabaseSlot *kg_find_database_slot(Oid dboid, bool create);
extern void kg_wake_launcher(void);
extern void kg_wake_worker(Oid dboid);

#endif							/* KG_SHMEM_H */
