/*-------------------------------------------------------------------------
 *
 * kg_runner.h
 *		Runner workers: the one mechanism that runs user code (event source
 *		mappings, Firehose delivery streams, video stream processors, Glue
 *		job runs and crawls) and the pg_cron sync in dynamic background
 *		workers, known to shared memory rather than to the process that
 *		launched them.
 *
 * A component describes a kind of runner (KgRunnerKind) and its
 * supervisor task, in the per-database worker, says each round which
 * runners it wants (kg_runner_want) between kg_runner_round_begin and
 * kg_runner_round_end.  The registry (one shared array) holds one entry per
 * (kind, database, id, part): it starts the runner, waits its turn when a
 * cap is reached (kinesis_glue.max_runners_per_database,
 * kinesis_glue.max_runners_per_role, and the worker slots kept free for
 * the launcher and the per-database workers), restarts an exited runner
 * with backoff, hands exited runners to the kind's reap callback, and
 * escalates a cancel that user code ignores to a terminate after
 * kinesis_glue.runner_grace.  A per-database worker that restarts finds
 * the live runners in the registry and adopts them: there is never a
 * second runner for one key.
 *
 * A runner calls kg_runner_start() (or kg_runner_begin() when it connects
 * to another database) first: it registers its PID in its entry
 * (kg_runner_attach) and exits unless the entry is the one its launch
 * created.  The backend running DROP DATABASE, RENAME or CREATE DATABASE
 * ... TEMPLATE stops a database's runners through the registry too
 * (kg_runner_terminate_database).
 *
 * Locking: the registry has its own LWLock, held only for a scan of the
 * array; signals and latches are sent after it is released.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_RUNNER_H
#define KG_RUNNER_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "postmaster/bgworker.h"

#define KG_RUNNER_KIND_LEN 16
#define KG_RUNNER_REASON_LEN 200

typedef enum KgRunnerState
{
	KG_RUNNER_FREE = 0,
	KG_RUNNER_WAITING,			/* wanted; no slot under the caps yet */
	KG_RUNNER_LAUNCHING,		/* registered with the postmaster */
	KG_RUNNER_RUNNING,			/* attached: pid set */
	KG_RUNNER_STOPPING,			/* asked to stop (cancel or terminate sent) */
	KG_RUNNER_EXITED,			/* gone; the kind's reap callback is due */
	KG_RUNNER_IDLE				/* reaped; kept for the restart backoff */
} KgRunnerState;

/* What a runner is told at launch (bgw_extra) and the reap callback gets. */
typedef struct KgRunnerInfo
{
	char		kind[KG_RUNNER_KIND_LEN];
	Oid			dboid;
	Oid			owner;
	int64		id;				/* mapping, run or crawl id */
	int32		part;			/* mapping slot; 0 otherwise */
	int32		generation;		/* the object's version the runner serves */
	uint64		token;			/* unique per launch */
	bool		attached;		/* the runner started (reap: it took its work) */
	bool		terminated;		/* the supervisor terminated it */
} KgRunnerInfo;

typedef struct KgRunnerKind
{
	const char *name;			/* at most KG_RUNNER_KIND_LEN - 1 bytes */
	const char *function_name;	/* bgworker entry point in this library */
	const char *bgw_type;		/* backend_type in pg_stat_activity */
	bool		restart;		/* long-lived: restart with backoff when it exits */
	/*
	 * called in a transaction for each exited runner, with why the
	 * supervisor stopped it ("" if it did not); may be NULL
	 */
	void		(*reap) (const KgRunnerInfo *info, const char *reason);

	/*
	 * run (as the extension owner, in the reap's transaction) when the
	 * supervisor terminated a runner: $1 = id (int8), $2 = the reason
	 * (text); records it in the object's status.  May be NULL.
	 */
	const char *terminated_sql;
} KgRunnerKind;

/* runtime setup (postmaster) */
extern void kg_runner_init_hooks(void);

/* supervisor side: one round of one kind in this database */
extern void kg_runner_round_begin(const KgRunnerKind *kind);
extern KgRunnerState kg_runner_want(const KgRunnerKind *kind, int64 id, int32 part,
									int32 generation, Oid owner);
extern void kg_runner_round_end(const KgRunnerKind *kind, bool stop_unwanted);
extern void kg_runner_stop(const KgRunnerKind *kind, int64 id, int32 part, const char *reason);
extern void kg_runner_forget_database(Oid dboid);
extern void kg_runner_terminate_database(Oid dboid, bool long_lived_only, const char *reason);
extern bool kg_runner_wait_database(Oid dboid, bool long_lived_only, int timeout_ms);
extern int	kg_runner_count(const KgRunnerKind *kind);
extern KgRunnerState kg_runner_want_state(const KgRunnerKind *kind, int64 id, int32 part);

/* runner side */
extern bool kg_runner_attach(KgRunnerInfo *info);
extern void kg_runner_begin(KgRunnerInfo *info);
extern void kg_runner_start(KgRunnerInfo *info);
extern void kg_runner_set_deadline(int64 timeout_ms);

/* run SQL as an owner: see kg_run_as_owner() in runner.c */
typedef struct KgOwnerCall
{
	Oid			owner;
	const char *sql;
	int			nargs;
	Oid		   *argtypes;
	Datum	   *args;
	const char *nulls;			/* SPI convention; NULL: none */
	int64		timeout_ms;		/* statement timeout; <= 0: none */
	bool		own_transaction;	/* false: a subtransaction of the current one */
	void		(*on_result) (void *arg);	/* reads SPI_tuptable; may be NULL */
	void	   *arg;
	/* out */
	int			sqlerrcode;		/* 0 when it succeeded */
	char	   *error;			/* message, in the caller's context */
} KgOwnerCall;

extern bool kg_run_as_owner(KgOwnerCall *call);

/*
 * A long-lived runner that polls one object (poll_runner.c).  All SQL takes
 * $1 = the object's id (int8).
 */
typedef struct KgPollRunner
{
	const KgRunnerKind *kind;
	const char *list_sql;		/* supervisor: (id int8, owner oid) of the objects to run */
	const char *check_sql;		/* runner, as extension owner: (owner oid, due bool); no row: leave */
	const char *start_sql;		/* runner, as owner, once at start; may be NULL */
	const char *batch_sql;		/* runner, as owner: one integer, the work done (0: none) */
	int			(*timeout_ms) (void);	/* of each call; NULL or <= 0: none */
	int			max_batches;	/* per round */
} KgPollRunner;

extern void kg_poll_supervise(const KgPollRunner *spec);

/* an object a worker task lists: kg_list_objects() */
typedef struct KgObjectRef
{
	int64		id;
	Oid			owner;
} KgObjectRef;

extern List *kg_list_objects(const char *what, const char *sql, bool *ok);
extern void kg_poll_runner_main(const KgPollRunner *spec) pg_attribute_noreturn();

#endif							/* KG_RUNNER_H */
