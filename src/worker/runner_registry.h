/*-------------------------------------------------------------------------
 *
 * runner_registry.h
 *		The shared runner registry's layout, private to runner.c (the
 *		supervisor side) and runner_side.c (the runner side, database
 *		clean-up and the status function).
 *
 * Locking: Registry->lock guards every entry; see runner.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_RUNNER_REGISTRY_H
#define KG_RUNNER_REGISTRY_H

#include "storage/lwlock.h"
#include "worker/kg_runner.h"

typedef struct KgRunnerSlot
{
	KgRunnerState state;
	KgRunnerInfo info;
	char		reason[KG_RUNNER_REASON_LEN];	/* why it waits, or was stopped */
	pid_t		pid;			/* set while RUNNING or STOPPING */
	pid_t		supervisor_pid; /* the worker that launched it */
	bool		seen;			/* wanted in the current round */
	bool		long_lived;		/* of a kind that restarts (KgRunnerKind.restart) */
	TimestampTz since;			/* entered its state */
	TimestampTz wanted_at;		/* last wanted by its supervisor */
	TimestampTz started_at;		/* attached */
	TimestampTz deadline;		/* of its current call; 0: none */
	TimestampTz cancel_at;		/* cancel sent; 0: not */
	int			restarts;		/* quick exits in a row (backoff) */
} KgRunnerSlot;

typedef struct KgRunnerRegistry
{
	LWLock	   *lock;
	uint64		next_token;
	int			nslots;
	KgRunnerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} KgRunnerRegistry;

extern KgRunnerRegistry *Registry;

/* Is s the live entry of (kind, dboid, id, part)? */
static inline bool
kg_slot_is(KgRunnerSlot *s, const char *kind, Oid dboid, int64 id, int32 part)
{
	return s->state != KG_RUNNER_FREE && s->info.dboid == dboid && s->info.id == id &&
		s->info.part == part && strcmp(s->info.kind, kind) == 0;
}

/* Does s hold (or is it about to hold) a background worker? */
static inline bool
kg_slot_active(KgRunnerSlot *s)
{
	return s->state == KG_RUNNER_LAUNCHING || s->state == KG_RUNNER_RUNNING || s->state == KG_RUNNER_STOPPING;
}

extern void kg_slot_signal(KgRunnerSlot *s, int sig);

#endif							/* KG_RUNNER_REGISTRY_H */
