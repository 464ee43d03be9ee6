/*-------------------------------------------------------------------------
 *
 * runner.c
 *		The shared registry of runner workers (see kg_runner.h): start,
 *		adopt, cap, reap, restart with backoff, and stop with a cancel that
 *		escalates to a terminate.
 *
 * One entry per (kind, database, id, part).  Only the per-database worker
 * of an entry's database changes its state from WAITING to LAUNCHING,
 * signals its runner, or reaps it; the runner itself moves it from
 * LAUNCHING to RUNNING (kg_runner_attach, which checks the launch token,
 * so a runner launched by a worker that has since restarted, or launched
 * twice, never runs beside another) and to EXITED when it leaves.  A
 * restarted per-database worker therefore adopts what it finds: a RUNNING
 * entry is left alone, a LAUNCHING entry whose launch it cannot follow is
 * given up after KG_LAUNCH_TIMEOUT_MS (the late runner then refuses to run).
 * The one other signaller is the backend running DROP DATABASE, RENAME or
 * CREATE DATABASE ... TEMPLATE (and a worker retiring from a database that
 * became a template), which terminates the database's runners once its
 * worker is gone (kg_runner_terminate_database).
 *
 * Locking: Registry->lock guards every entry.  It is held for scans
 * of the array and for kill(2) of an entry's PID (the PID is cleared under
 * the lock before the runner exits, so it cannot be reused meanwhile);
 * never across a transaction, latch wait or worker registration.  It may
 * be taken after KgShared->lock is released, never while holding it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "tcop/tcopprot.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog/pg_type.h"
#include "common/kg_catalog.h"
#include "common/kg_shmem.h"
#include "worker/kg_worker.h"
#include "worker/runner_registry.h"

#define KG_LAUNCH_TIMEOUT_MS 10000
#define KG_RESTART_BACKOFF_MAX_MS 60000
#define KG_TERMINATED_SHOWN_MS 60000

int			kg_max_runners_per_database = 16;
int			kg_max_runners_per_role = 8;
int			kg_reserved_worker_processes = 2;
int			kg_runner_grace_ms = 10000;

KgRunnerRegistry *Registry = NULL;

/* supervisor side: handles of the runners this process launched */
typedef struct KgLocalHandle
{
	uint64		token;
	BackgroundWorkerHandle *handle;
} KgLocalHandle;
static List *local_handles = NIL;
static TimestampTz last_full_warning = 0;


static int
kg_registry_slots(void)
{
	return max_worker_processes * 4 + 64;
}

static Size
kg_registry_size(void)
{
	return add_size(offsetof(KgRunnerRegistry, slots),
					mul_size(kg_registry_slots(), sizeof(KgRunnerSlot)));
}

/* kg_shmem_register init: attach to (on first use, initialise) the registry. */
static void
kg_runner_shmem_init(void)
{
	bool		found;

	Registry = ShmemInitStruct("kinesis_glue runners", kg_registry_size(), &found);
	if (!found)
	{
		memset(Registry, 0, kg_registry_size());
		Registry->lock = &(GetNamedLWLockTranche("kinesis_glue runners"))[0].lock;
		Registry->nslots = kg_registry_slots();
		Registry->next_token = 1;
	}
}

static const KgShmemPart kg_runner_shmem = {
	"kinesis_glue runners", kg_registry_size, kg_runner_shmem_init, 1
};

/*
 * Define the settings and register the registry's shared memory (called
 * from _PG_init).
 */
void
kg_runner_init_hooks(void)
{
	DefineCustomIntVariable("kinesis_glue.max_runners_per_database",
							"Most runner workers (mappings, job runs, crawls) one database may use at once.",
							NULL, &kg_max_runners_per_database, 16, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.max_runners_per_role",
							"Most runner workers the objects of one owner may use at once, over all databases.",
							NULL, &kg_max_runners_per_role, 8, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.reserved_worker_processes",
							"Background worker slots runners leave free, beyond the launcher and one per database worker.",
							NULL, &kg_reserved_worker_processes, 2, 0, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kinesis_glue.runner_grace",
							"How long a runner that ignores a cancel (a stop or its timeout) has before it is terminated.",
							NULL, &kg_runner_grace_ms, 10000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	kg_shmem_register(&kg_runner_shmem);
}

/* Send sig to an entry's runner; caller holds the lock. */
void
kg_slot_signal(KgRunnerSlot *s, int sig)
{
	if (s->pid != 0 && kill(s->pid, sig) != 0 && errno != ESRCH)
		ereport(WARNING, (errmsg("could not signal kinesis_glue runner %d: %m", (int) s->pid)));
}

static BackgroundWorkerHandle *
kg_local_handle(uint64 token, bool forget)
{
	ListCell   *lc;

	foreach(lc, local_handles)
	{
		KgLocalHandle *h = lfirst(lc);

		if (h->token == token)
		{
			BackgroundWorkerHandle *handle = h->handle;

			if (forget)
			{
				local_handles = foreach_delete_current(local_handles, lc);
				pfree(h);
			}
			return handle;
		}
	}
	return NULL;
}

/* Transaction body: the kind's reap callback for one exited runner. */
typedef struct KgReapArg
{
	const KgRunnerKind *kind;
	KgRunnerInfo info;
	char		reason[KG_RUNNER_REASON_LEN];
} KgReapArg;

static void
kg_reap_txn(void *arg)
{
	KgReapArg  *r = (KgReapArg *) arg;

	if (r->kind->reap)
		r->kind->reap(&r->info, r->reason);
	if (r->kind->terminated_sql && r->info.terminated)
	{
		KgCatalogContext cc;

		kg_catalog_enter(&cc, false);
		kg_spi_exec(r->kind->terminated_sql, 2, (Oid[]) {INT8OID, TEXTOID},
					(Datum[]) {Int64GetDatum(r->info.id), CStringGetTextDatum(r->reason)}, NULL, false);
		kg_catalog_exit(&cc);
	}
}

/*
 * Round phase "escalate", for a running or stopping entry (the lock held):
 * the runner's own statement timeout cancels a call at its deadline, and
 * kg_runner_stop cancels on request; a cancel still unanswered after
 * kinesis_glue.runner_grace is escalated to a terminate, with the reason.
 */
static void
kg_slot_escalate(const KgRunnerKind *kind, KgRunnerSlot *s, TimestampTz now)
{
	TimestampTz cancelled = s->cancel_at;

	if (s->state == KG_RUNNER_RUNNING && s->deadline != 0 && now >= s->deadline &&
		(cancelled == 0 || s->deadline < cancelled))
		cancelled = s->deadline;
	if (cancelled == 0 || s->info.terminated ||
		!TimestampDifferenceExceeds(cancelled, now, kg_runner_grace_ms))
		return;
	if (s->reason[0] == '\0')
		snprintf(s->reason, sizeof(s->reason),
				 "terminated: its call ignored the cancel at its timeout for %d ms (kinesis_glue.runner_grace)",
				 kg_runner_grace_ms);
	else
		strlcat(s->reason, "; terminated: the cancel was ignored for kinesis_glue.runner_grace",
				sizeof(s->reason));
	s->info.terminated = true;
	s->state = KG_RUNNER_STOPPING;
	kg_slot_signal(s, SIGTERM);
	ereport(LOG,
			(errmsg("kinesis_glue %s runner %lld/%d ignored a cancel; terminated",
					kind->name, (long long) s->info.id, s->info.part)));
}

/*
 * Round phase "examine", for one entry of this round's kind and database
 * (the lock held): is its runner gone (it exited, or a launch never
 * attached: its worker stopped, or we cannot follow it and it is past
 * KG_LAUNCH_TIMEOUT_MS)?  A live runner's ignored cancel is escalated.
 */
static bool
kg_slot_gone(const KgRunnerKind *kind, KgRunnerSlot *s, TimestampTz now)
{
	if (s->state == KG_RUNNER_LAUNCHING || (s->state == KG_RUNNER_STOPPING && s->pid == 0))
	{
		BackgroundWorkerHandle *h = kg_local_handle(s->info.token, false);
		pid_t		pid;

		if (h != NULL)
			return GetBackgroundWorkerPid(h, &pid) == BGWH_STOPPED;
		return TimestampDifferenceExceeds(s->since, now, KG_LAUNCH_TIMEOUT_MS);
	}
	if (s->state == KG_RUNNER_EXITED)
		return true;
	if (s->state == KG_RUNNER_RUNNING || s->state == KG_RUNNER_STOPPING)
		kg_slot_escalate(kind, s, now);
	return false;
}

/*
 * Round phase "reap", for an entry whose runner is gone (the lock held):
 * make it IDLE for the restart backoff (quick exits in a row lengthen it)
 * and return what its reap callback needs, in TopMemoryContext.
 */
static KgReapArg *
kg_slot_reap(const KgRunnerKind *kind, KgRunnerSlot *s, TimestampTz now)
{
	KgReapArg  *r = MemoryContextAlloc(TopMemoryContext, sizeof(KgReapArg));

	r->kind = kind;
	r->info = s->info;
	memcpy(r->reason, s->reason, sizeof(r->reason));
	(void) kg_local_handle(s->info.token, true);
	if (s->started_at != 0 && TimestampDifferenceExceeds(s->started_at, now, KG_RESTART_BACKOFF_MAX_MS))
		s->restarts = 0;
	else
		s->restarts++;
	s->state = KG_RUNNER_IDLE;
	s->pid = 0;
	s->since = now;
	return r;
}

/*
 * Start of a supervisor round for one kind in this database: reap the
 * runners that exited (and launches that never started), escalate cancels
 * that were ignored, and mark every entry unseen.  Runs outside a
 * transaction; each reap callback runs in one of its own.
 */
void
kg_runner_round_begin(const KgRunnerKind *kind)
{
	TimestampTz now = GetCurrentTimestamp();
	List	   *reaped = NIL;
	ListCell   *lc;

	if (Registry == NULL)
		return;
	LWLockAcquire(Registry->lock, LW_EXCLUSIVE);
	for (int i = 0; i < Registry->nslots; i++)
	{
		KgRunnerSlot *s = &Registry->slots[i];

		if (s->state == KG_RUNNER_FREE || s->info.dboid != MyDatabaseId || strcmp(s->info.kind, kind->name) != 0)
			continue;
		s->seen = false;
		if (kg_slot_gone(kind, s, now))
			reaped = lappend(reaped, kg_slot_reap(kind, s, now));
	}
	LWLockRelease(Registry->lock);

	foreach(lc, reaped)
	{
		KgReapArg  *r = lfirst(lc);

		if (kind->reap || (kind->terminated_sql && r->info.terminated))
			(void) kg_run_in_transaction("kinesis_glue: reap a runner", kg_reap_txn, r);
	}
	list_free_deep(reaped);
}

/* Wanted database workers (one slot each), read before our lock is taken. */
static int
kg_wanted_databases(void)
{
	int			n = 0;

	LWLockAcquire(KgShared->lock, LW_SHARED);
	for (int i = 0; i < KgShared->ndatabases; i++)
		if (KgShared->databases[i].dboid != InvalidOid && KgShared->databases[i].wanted)
			n++;
	LWLockRelease(KgShared->lock);
	return n;
}

/*
 * May entry s start now?  Fills s->reason when not.  Caller holds the
 * lock exclusively.
 */
static bool
kg_runner_fits(KgRunnerSlot *s, int ndatabases)
{
	int			in_db = 0,
				of_owner = 0,
				total = 0;
	int			cap = max_worker_processes - 1 - ndatabases - kg_reserved_worker_processes;

	for (int i = 0; i < Registry->nslots; i++)
	{
		KgRunnerSlot *o = &Registry->slots[i];

		if (!kg_slot_active(o))
			continue;
		total++;
		if (o->info.dboid == s->info.dboid)
			in_db++;
		if (o->info.owner == s->info.owner)
			of_owner++;
	}
	if (of_owner >= kg_max_runners_per_role)
		snprintf(s->reason, sizeof(s->reason),
				 "waiting for a runner slot: its owner has %d runners (kinesis_glue.max_runners_per_role)", of_owner);
	else if (in_db >= kg_max_runners_per_database)
		snprintf(s->reason, sizeof(s->reason),
				 "waiting for a runner slot: this database has %d runners (kinesis_glue.max_runners_per_database)", in_db);
	else if (total >= cap)
		snprintf(s->reason, sizeof(s->reason),
				 "waiting for a runner slot: %d runners use the background worker slots left after the launcher, "
				 "%d database workers and kinesis_glue.reserved_worker_processes", total, ndatabases);
	else
		return true;
	return false;
}

/*
 * Does an entry that waits longer than s (in any database) fit the caps?
 * Then s waits its turn.  Caller holds the lock.
 */
static bool
kg_older_waiter_fits(KgRunnerSlot *s, int ndatabases)
{
	for (int i = 0; i < Registry->nslots; i++)
	{
		KgRunnerSlot *o = &Registry->slots[i];
		char		save[KG_RUNNER_REASON_LEN];
		bool		fits;

		/* an entry its supervisor no longer refreshes (gone) does not count */
		if (o == s || o->state != KG_RUNNER_WAITING || o->since >= s->since ||
			TimestampDifferenceExceeds(o->wanted_at, s->wanted_at, KG_LAUNCH_TIMEOUT_MS))
			continue;
		memcpy(save, o->reason, sizeof(save));
		fits = kg_runner_fits(o, ndatabases);
		memcpy(o->reason, save, sizeof(save));
		if (fits)
		{
			snprintf(s->reason, sizeof(s->reason),
					 "waiting for a runner slot: an older request goes first");
			return true;
		}
	}
	return false;
}

/*
 * Want phase "find": the entry of (kind, this database, id, part), or a
 * new WAITING one; NULL when the registry is full.  Caller holds the lock
 * exclusively.
 */
static KgRunnerSlot *
kg_slot_find_or_add(const KgRunnerKind *kind, int64 id, int32 part, int32 generation, TimestampTz now)
{
	KgRunnerSlot *free_slot = NULL;
	KgRunnerSlot *s;

	for (int i = 0; i < Registry->nslots; i++)
	{
		if (kg_slot_is(&Registry->slots[i], kind->name, MyDatabaseId, id, part))
			return &Registry->slots[i];
		if (Registry->slots[i].state == KG_RUNNER_FREE && free_slot == NULL)
			free_slot = &Registry->slots[i];
	}
	if (free_slot == NULL)
		return NULL;
	s = free_slot;
	memset(s, 0, sizeof(*s));
	strlcpy(s->info.kind, kind->name, sizeof(s->info.kind));
	s->info.dboid = MyDatabaseId;
	s->info.id = id;
	s->info.part = part;
	s->info.generation = generation;
	s->state = KG_RUNNER_WAITING;
	s->since = now;
	return s;
}

/*
 * Want phase "decide": may entry s, wanted at generation, launch now?  A
 * runner of another generation is stopped first; an exited one of a
 * long-lived kind waits out its restart backoff (a one-shot kind's entry
 * wanted again is a new run); a waiting one needs room under the caps and
 * no older waiter that fits.  True, with s LAUNCHING for a new launch token
 * and *info its copy, when it may; false with *st the state to report.
 * Caller holds the lock exclusively.
 */
static bool
kg_slot_may_launch(KgRunnerSlot *s, int32 generation, int ndatabases, TimestampTz now,
				   KgRunnerInfo *info, KgRunnerState *st)
{
	if (kg_slot_active(s) && s->info.generation != generation && s->state != KG_RUNNER_STOPPING)
	{
		/* a runner of an older version: stop it; its successor starts once it has gone */
		s->state = KG_RUNNER_STOPPING;
		snprintf(s->reason, sizeof(s->reason), "stopped: its object changed");
		kg_slot_signal(s, SIGTERM);
	}
	/* a long-lived runner that exited restarts after a backoff; a one-shot one is wanted anew */
	if (s->state == KG_RUNNER_IDLE && s->long_lived &&
		!TimestampDifferenceExceeds(s->since, now,
									Min(KG_RESTART_BACKOFF_MAX_MS, 1000 << Min(s->restarts, 6))))
	{
		*st = KG_RUNNER_IDLE;	/* restart backoff */
		return false;
	}
	if (s->state == KG_RUNNER_IDLE)
	{
		s->state = KG_RUNNER_WAITING;
		s->since = now;
	}
	*st = s->state;
	if (s->state != KG_RUNNER_WAITING ||
		!kg_runner_fits(s, ndatabases) || kg_older_waiter_fits(s, ndatabases))
		return false;
	s->info.generation = generation;
	s->info.token = Registry->next_token++;
	s->info.attached = false;
	s->info.terminated = false;
	s->reason[0] = '\0';
	s->state = KG_RUNNER_LAUNCHING;
	s->supervisor_pid = MyProcPid;
	s->since = now;
	s->started_at = 0;
	s->deadline = 0;
	s->cancel_at = 0;
	*info = s->info;
	return true;
}

/*
 * Want phase "launch", without the lock: start the runner of entry s
 * (launch token info->token) and keep its handle; when no worker slot is
 * free, the entry waits again with the reason.
 */
static KgRunnerState
kg_slot_launch(const KgRunnerKind *kind, KgRunnerSlot *s, KgRunnerInfo *info)
{
	BackgroundWorkerHandle *handle;

	StaticAssertStmt(sizeof(KgRunnerInfo) <= BGW_EXTRALEN, "runner info must fit in bgw_extra");
	if (kg_launch_dynamic_worker(kind->function_name, kind->bgw_type,
								 psprintf("kinesis_glue %s %lld/%d", kind->name, (long long) info->id, info->part),
								 (Datum) 0, info, sizeof(*info), &handle))
	{
		KgLocalHandle *h = MemoryContextAlloc(TopMemoryContext, sizeof(KgLocalHandle));
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		h->token = info->token;
		h->handle = handle;
		local_handles = lappend(local_handles, h);
		MemoryContextSwitchTo(old);
		return KG_RUNNER_LAUNCHING;
	}

	LWLockAcquire(Registry->lock, LW_EXCLUSIVE);
	if (s->state == KG_RUNNER_LAUNCHING && s->info.token == info->token)
	{
		s->state = KG_RUNNER_WAITING;
		snprintf(s->reason, sizeof(s->reason),
				 "waiting for a runner slot: no free background worker slot (max_worker_processes)");
	}
	LWLockRelease(Registry->lock);
	return KG_RUNNER_WAITING;
}

/*
 * Supervisor: this database wants a runner of kind for (id, part) at
 * generation, on behalf of owner.  Launches it when it does not run and
 * the caps allow (a runner of another generation is stopped first and
 * replaced once it has exited); otherwise it waits, with the reason in
 * kinesis_glue.runners.  Returns the entry's state.
 */
KgRunnerState
kg_runner_want(const KgRunnerKind *kind, int64 id, int32 part, int32 generation, Oid owner)
{
	KgRunnerSlot *s;
	KgRunnerInfo info;
	KgRunnerState st;
	TimestampTz now = GetCurrentTimestamp();
	int			ndatabases;
	bool		launch;

	if (Registry == NULL)
		return KG_RUNNER_FREE;
	ndatabases = kg_wanted_databases();
	LWLockAcquire(Registry->lock, LW_EXCLUSIVE);
	s = kg_slot_find_or_add(kind, id, part, generation, now);
	if (s == NULL)
	{
		LWLockRelease(Registry->lock);
		if (TimestampDifferenceExceeds(last_full_warning, now, 60 * 1000))
		{
			ereport(WARNING,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("the kinesis_glue runner registry is full"),
					 errhint("Raise \"max_worker_processes\" (the registry holds four entries per slot) and restart the server.")));
			last_full_warning = now;
		}
		return KG_RUNNER_FREE;
	}
	s->seen = true;
	s->long_lived = kind->restart;
	s->wanted_at = now;
	s->info.owner = owner;
	launch = kg_slot_may_launch(s, generation, ndatabases, now, &info, &st);
	LWLockRelease(Registry->lock);
	return launch ? kg_slot_launch(kind, s, &info) : st;
}

/*
 * End of a supervisor round: entries of this kind and database that were
 * not wanted this round stop waiting; with stop_unwanted, their runners are
 * terminated too (a mapping deleted, disabled or shrunk).  An exited runner
 * that the supervisor terminated stays listed (idle, with the reason in
 * kinesis_glue.runners) for KG_TERMINATED_SHOWN_MS, also when nothing
 * wants it again (a job run that ended).
 */
void
kg_runner_round_end(const KgRunnerKind *kind, bool stop_unwanted)
{
	TimestampTz now = GetCurrentTimestamp();

	if (Registry == NULL)
		return;
	LWLockAcquire(Registry->lock, LW_EXCLUSIVE);
	for (int i = 0; i < Registry->nslots; i++)
	{
		KgRunnerSlot *s = &Registry->slots[i];

		if (s->state == KG_RUNNER_FREE || s->seen || s->info.dboid != MyDatabaseId ||
			strcmp(s->info.kind, kind->name) != 0)
			continue;
		if (s->state == KG_RUNNER_IDLE && s->info.terminated &&
			!TimestampDifferenceExceeds(s->since, now, KG_TERMINATED_SHOWN_MS))
			continue;
		if (s->state == KG_RUNNER_WAITING || s->state == KG_RUNNER_IDLE)
			s->state = KG_RUNNER_FREE;
		else if (stop_unwanted && (s->state == KG_RUNNER_RUNNING || s->state == KG_RUNNER_LAUNCHING))
		{
			s->state = KG_RUNNER_STOPPING;
			snprintf(s->reason, sizeof(s->reason), "stopped: no longer wanted");
			kg_slot_signal(s, SIGTERM);
		}
	}
	LWLockRelease(Registry->lock);
}

/*
 * Supervisor: cancel the runner of (id, part) with a reason (a stop
 * request); if it ignores the cancel for kinesis_glue.runner_grace, the
 * next round terminates it.  Only this database's worker calls this, and
 * it signals only the PID its registry entry holds.
 */
void
kg_runner_stop(const KgRunnerKind *kind, int64 id, int32 part, const char *reason)
{
	if (Registry == NULL)
		return;
	LWLockAcquire(Registry->lock, LW_EXCLUSIVE);
	for (int i = 0; i < Registry->nslots; i++)
	{
		KgRunnerSlot *s = &Registry->slots[i];

		/* only a running runner: one stopping (or terminated) keeps its reason */
		if (!kg_slot_is(s, kind->name, MyDatabaseId, id, part) || s->state != KG_RUNNER_RUNNING ||
			s->pid == 0 || s->cancel_at != 0)
			continue;
		s->state = KG_RUNNER_STOPPING;
		s->cancel_at = GetCurrentTimestamp();
		strlcpy(s->reason, reason, sizeof(s->reason));
		kg_slot_signal(s, SIGINT);
	}
	LWLockRelease(Registry->lock);
}

/* Runners of kind in this database that hold (or are about to hold) a worker. */
int
kg_runner_count(const KgRunnerKind *kind)
{
	int			n = 0;

	if (Registry == NULL)
		return 0;
	LWLockAcquire(Registry->lock, LW_SHARED);
	for (int i = 0; i < Registry->nslots; i++)
	{
		KgRunnerSlot *s = &Registry->slots[i];

		if (kg_slot_active(s) && s->info.dboid == MyDatabaseId && strcmp(s->info.kind, kind->name) == 0)
			n++;
	}
	LWLockRelease(Registry->lock);
	return n;
}

/*
 * The state of the entry of (id, part) of kind in this database; FREE
 * when there is none, WAITING when it waits for a slot.
 */
KgRunnerState
kg_runner_want_state(const KgRunnerKind *kind, int64 id, int32 part)
{
	KgRunnerState st = KG_RUNNER_FREE;

	if (Registry == NULL)
		return st;
	LWLockAcquire(Registry->lock, LW_SHARED);
	for (int i = 0; i < Registry->nslots; i++)
		if (kg_slot_is(&Registry->slots[i], kind->name, MyDatabaseId, id, part))
			st = Registry->slots[i].state;
	LWLockRelease(Registry->lock);
	return st;
}

