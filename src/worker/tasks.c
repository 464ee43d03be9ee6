/*-------------------------------------------------------------------------
 *
 * tasks.c
 *		The registry of periodic tasks run by every per-database worker.
 *
 * A component adds work to the worker from its init function in _PG_init:
 * it writes a function that runs one round outside a transaction (opening
 * one transaction per unit of work with kg_run_in_transaction) and
 * registers it with kg_worker_register_task().  Tasks run in registration
 * order.  SQL callers that need a round now call kg_wake_worker(MyDatabaseId);
 * tasks with run_when_woken then run at once, the others when their
 * interval is up.  The runtime names no task of its own here.
 *
 * Locking: none; the registry is written only in _PG_init (the postmaster,
 * or each process that loads the library) and read-only afterwards.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/kg_guc.h"
#include "worker/kg_worker.h"

#define KG_MAX_TASKS 32

static const KgTask *tasks[KG_MAX_TASKS];
static int	ntasks = 0;

/*
 * Add a task to every per-database worker.  task must stay valid (a static
 * const); its interval_ms may be NULL for kinesis_glue.worker_naptime.
 */
void
kg_worker_register_task(const KgTask *task)
{
	if (ntasks >= KG_MAX_TASKS)
		elog(ERROR, "too many kinesis_glue worker tasks");
	tasks[ntasks++] = task;
}

/* The number of registered tasks. */
int
kg_worker_ntasks(void)
{
	return ntasks;
}

/* The i-th registered task (0 <= i < kg_worker_ntasks()). */
const KgTask *
kg_worker_task(int i)
{
	Assert(i >= 0 && i < ntasks);
	return tasks[i];
}

/* How long the worker may wait before task runs again, in milliseconds. */
int
kg_worker_task_interval(const KgTask *task)
{
	return task->interval_ms ? task->interval_ms() : kg_worker_naptime_ms;
}
