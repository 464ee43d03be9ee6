/*-------------------------------------------------------------------------
 *
 * launch.c
 *		kg_launch_dynamic_worker: the one way this library starts a
 *		dynamic background worker (the launcher's per-database workers and
 *		the runner registry's runners).
 *
 * Locking: none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/memutils.h"

#include "worker/kg_worker.h"

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
