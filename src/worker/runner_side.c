/*-------------------------------------------------------------------------
 *
 * runner_side.c
 *		The runner's side of the shared runner registry (see kg_runner.h):
 *		attaching to its entry at start, publishing the deadline of its
 *		current call, leaving; plus the clean-up of a dropped database's
 *		entries and the SQL status function behind kinesis_glue.runners.
 *
 * Locking: Registry->lock, as in runner.c.  A runner keeps the index of
 * its entry: entries are freed only after they are EXITED, which only the
 * runner itself sets, so the index stays valid while it runs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "common/kg_shmem.h"
#include "worker/runner_registry.h"

/* this process, when it is a runner: its entry */
static int	my_slot = -1;

static const char *const state_names[] = {
	"free", "waiting", "starting", "running", "stopping", "exited", "idle"
};

/* before_shmem_exit of a runner: mark its entry EXITED and wake its supervisor. */
static void
kg_runner_detach(int code, Datum arg)
{
	KgRunnerSlot *s = &Registry->slots[my_slot];
	Oid			dboid = InvalidOid;

	LWLockAcquire(Registry->lock, LW_EXCLUSIVE);
	if (s->pid == MyProcPid)
	{
		s->state = KG_RUNNER_EXITED;
		s->pid = 0;
		s->since = GetCurrentTimestamp();
		dboid = s->info.dboid;
	}
	LWLockRelease(Registry->lock);
	my_slot = -1;
	if (OidIsValid(dboid))
		kg_wake_worker(dboid);
}

/*
 * Runner: claim the entry this worker was launched for (its bgw_extra).
 * Returns false, and the runner must exit without doing anything, unless
 * the entry is still the one of this launch: that is what guarantees at
 * most one runner per key whatever restarts.  *info receives the entry.
 */
bool
kg_runner_attach(KgRunnerInfo *info)
{
	KgRunnerInfo mine;

	memcpy(&mine, MyBgworkerEntry->bgw_extra, sizeof(mine));
	if (Registry == NULL)
		return false;
	LWLockAcquire(Registry->lock, LW_EXCLUSIVE);
	for (int i = 0; i < Registry->nslots; i++)
	{
		KgRunnerSlot *s = &Registry->slots[i];

		if (kg_slot_is(s, mine.kind, mine.dboid, mine.id, mine.part) &&
			s->state == KG_RUNNER_LAUNCHING && s->info.token == mine.token && s->pid == 0)
		{
			s->state = KG_RUNNER_RUNNING;
			s->pid = MyProcPid;
			s->started_at = GetCurrentTimestamp();
			s->info.attached = true;
			*info = s->info;
			my_slot = i;
			break;
		}
	}
	LWLockRelease(Registry->lock);
	if (my_slot < 0)
	{
		ereport(LOG,
				(errmsg("kinesis_glue %s runner %lld/%d not started: another runner holds its key, or its launch was given up",
						mine.kind, (long long) mine.id, mine.part)));
		return false;
	}
	before_shmem_exit(kg_runner_detach, (Datum) 0);
	return true;
}

/*
 * Runner entry, before connecting: install the signal handlers (SIGHUP
 * reloads, SIGINT cancels the current statement, SIGTERM ends the runner)
 * and attach to the registry entry of this launch, or exit at once (see
 * kg_runner_attach).  *info receives the entry.  For a runner that works
 * in another database than its entry's (the pg_cron sync); the others call
 * kg_runner_start.
 */
void
kg_runner_begin(KgRunnerInfo *info)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	pqsignal(SIGINT, StatementCancelHandler);
	BackgroundWorkerUnblockSignals();
	if (!kg_runner_attach(info))
		proc_exit(0);
}

/*
 * Runner entry: kg_runner_begin, then connect to the entry's database and
 * report the runner's type as application name.  *info receives the entry.
 */
void
kg_runner_start(KgRunnerInfo *info)
{
	kg_runner_begin(info);
	BackgroundWorkerInitializeConnectionByOid(info->dboid, InvalidOid, 0);
	pgstat_report_appname(MyBgworkerEntry->bgw_type);
}

/*
 * Runner: the call it starts now must end within timeout_ms (<= 0: no
 * deadline, the call ended).  The runner's own statement timeout cancels
 * the call at the deadline; if it is still running a grace period later
 * (kinesis_glue.runner_grace), the supervisor terminates the runner.
 */
void
kg_runner_set_deadline(int64 timeout_ms)
{
	KgRunnerSlot *s;

	if (my_slot < 0)
		return;
	s = &Registry->slots[my_slot];
	LWLockAcquire(Registry->lock, LW_EXCLUSIVE);
	if (s->pid == MyProcPid)
	{
		s->deadline = timeout_ms > 0 ? TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms) : 0;
		if (s->state == KG_RUNNER_RUNNING)
			s->cancel_at = 0;	/* a cancel it obeyed is over */
	}
	LWLockRelease(Registry->lock);
}

/* Is s a runner of dboid that kg_runner_terminate_database(dboid, long_lived_only) stops? */
static bool
kg_slot_of_database(KgRunnerSlot *s, Oid dboid, bool long_lived_only)
{
	return s->state != KG_RUNNER_FREE && s->info.dboid == dboid && (s->long_lived || !long_lived_only);
}

/*
 * Terminate the runners of a database that must have no sessions: every
 * runner when it is dropped; with long_lived_only, those of the kinds that
 * restart (mappings, deliveries, processors) when it is copied, renamed or
 * becomes a template (job runs and crawls are a user's work in progress:
 * CREATE DATABASE reports them as any session).  A runner launched but not
 * attached yet is stopped too: it will refuse to run.  The reason shows in
 * kinesis_glue.runners.  Called once the database's worker is gone (or by
 * the worker itself as it retires), so nothing launches runners meanwhile.
 */
void
kg_runner_terminate_database(Oid dboid, bool long_lived_only, const char *reason)
{
	if (Registry == NULL)
		return;
	LWLockAcquire(Registry->lock, LW_EXCLUSIVE);
	for (int i = 0; i < Registry->nslots; i++)
	{
		KgRunnerSlot *s = &Registry->slots[i];

		if (!kg_slot_of_database(s, dboid, long_lived_only) ||
			(s->pid == 0 && s->state != KG_RUNNER_LAUNCHING))
			continue;
		s->state = KG_RUNNER_STOPPING;
		strlcpy(s->reason, reason, sizeof(s->reason));
		kg_slot_signal(s, SIGTERM);
	}
	LWLockRelease(Registry->lock);
}

/*
 * Wait up to timeout_ms for the runners kg_runner_terminate_database(dboid,
 * long_lived_only) stopped to be gone.  True when none is left.
 */
bool
kg_runner_wait_database(Oid dboid, bool long_lived_only, int timeout_ms)
{
	for (int waited = 0;; waited += 10)
	{
		int			left = 0;

		if (Registry == NULL)
			return true;
		LWLockAcquire(Registry->lock, LW_SHARED);
		for (int i = 0; i < Registry->nslots; i++)
		{
			KgRunnerSlot *s = &Registry->slots[i];

			if (kg_slot_of_database(s, dboid, long_lived_only) && s->pid != 0)
				left++;
		}
		LWLockRelease(Registry->lock);
		if (left == 0)
			return true;
		if (waited >= timeout_ms)
			return false;
		pg_usleep(10000L);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Free the entries of a dropped database (its runners are gone). */
void
kg_runner_forget_database(Oid dboid)
{
	if (Registry == NULL)
		return;
	LWLockAcquire(Registry->lock, LW_EXCLUSIVE);
	for (int i = 0; i < Registry->nslots; i++)
	{
		KgRunnerSlot *s = &Registry->slots[i];

		if (s->state != KG_RUNNER_FREE && s->info.dboid == dboid && s->pid == 0)
			s->state = KG_RUNNER_FREE;
	}
	LWLockRelease(Registry->lock);
}

PG_FUNCTION_INFO_V1(kg_runners_sql);

/*
 * kinesis_glue._runners(): the registry, one row per entry:
 * (kind, datid, id, part, generation, owner, state, pid, since, reason).
 */
Datum
kg_runners_sql(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (Registry == NULL)
		return (Datum) 0;
	LWLockAcquire(Registry->lock, LW_SHARED);
	for (int i = 0; i < Registry->nslots; i++)
	{
		KgRunnerSlot *s = &Registry->slots[i];
		Datum		values[10];
		bool		nulls[10] = {0};

		if (s->state == KG_RUNNER_FREE)
			continue;
		values[0] = CStringGetTextDatum(s->info.kind);
		values[1] = ObjectIdGetDatum(s->info.dboid);
		values[2] = Int64GetDatum(s->info.id);
		values[3] = Int32GetDatum(s->info.part);
		values[4] = Int32GetDatum(s->info.generation);
		values[5] = ObjectIdGetDatum(s->info.owner);
		values[6] = CStringGetTextDatum(state_names[s->state]);
		values[7] = Int32GetDatum(s->pid);
		nulls[7] = s->pid == 0;
		values[8] = TimestampTzGetDatum(s->since);
		values[9] = CStringGetTextDatum(s->reason);
		nulls[9] = s->reason[0] == '\0';
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(Registry->lock);
	return (Datum) 0;
}
