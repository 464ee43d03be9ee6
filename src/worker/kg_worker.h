/*-------------------------------------------------------------------------
 *
 * kg_worker.h
 *		The launcher, the per-database workers and the registries that
 *		components plug into: periodic tasks and protected storage.
 *
 * A task is a function the per-database worker calls outside any
 * transaction every interval_ms (and sooner when woken).  It opens its own
 * transactions, one per unit of work, through kg_run_in_transaction().
 *
 * Locking: see kg_shmem.h for the database registry.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KG_WORKER_H
#define KG_WORKER_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "nodes/nodes.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "postmaster/bgworker.h"

typedef struct KgTask
{
	const char *name;			/* shown in logs */
	int			(*interval_ms) (void);	/* how often, read each round; NULL:
										 * kinesis_glue.worker_naptime */
	void		(*run) (void);	/* one round; runs outside a transaction */
	bool		run_when_woken; /* also run at once when the worker is woken */
} KgTask;

/* the task registry (tasks.c): components register in _PG_init */
extern void kg_worker_register_task(const KgTask *task);
extern int	kg_worker_ntasks(void);
extern const KgTask *kg_worker_task(int i);
extern int	kg_worker_task_interval(const KgTask *task);

/* registration (postmaster) */
extern void kg_register_launcher(void);
extern void kg_utility_init_hook(void);

/*
 * A kind of storage the DDL guard protects (ddl_guard.c): every relation
 * in one of its schemas.  Refusals read "cannot <command> the
 * <storage_noun> of a <object_noun>".
 */
typedef struct KgProtectedStorage
{
	const char *const *schemas; /* NULL-terminated */
	const char *storage_noun;	/* "record storage" */
	const char *object_noun;	/* "data stream" */
	const char *hint;			/* which functions to use instead */
	const char *trigger_schema; /* the trigger function that forbids DML, */
	const char *trigger_function;	/* which a restore may attach */
} KgProtectedStorage;

extern void kg_guard_protect_storage(const KgProtectedStorage *storage);

/*
 * What a component's roles can own (owned.c): labels[k] (for DROP ROLE's
 * detail, "data streams") are counted in catalogs[k] (qualified, with an
 * owner column).  check_drop refuses (ERROR) a DROP OWNED while objects are
 * busy; drop deletes them, as the caller; reassign, inside
 * kg_catalog_enter, moves their owner.  Each gets the roles as an oid[]
 * datum; any may be NULL.
 */
typedef struct KgOwnedObjects
{
	const char *const *labels;	/* NULL-terminated */
	const char *const *catalogs;
	void		(*check_drop) (Datum roles);
	void		(*drop) (Datum roles, DropBehavior behavior);
	void		(*reassign) (Datum roles, Oid newrole);
} KgOwnedObjects;

/* the condition on an owner column for $1 = the roles (oid[]) */
#define KG_OWNED_BY "owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)"

extern void kg_owned_register(const KgOwnedObjects *objects);
extern List *kg_owned_names(const char *sql, Datum roles, MemoryContext cxt);
extern void kg_owned_delete_each(const char *query, const char *call, Datum roles);
extern void kg_owned_reassign_sql(const char *const *sql, int nsql, Datum roles, Oid newrole);
extern void kg_owned_reassign_storage(const char *catalog, const char *returning, Datum roles,
									  Oid newrole, void (*each_row) (HeapTuple row, TupleDesc desc));

/* ddl_guard.c, owned.c: called by the utility hook */
extern void kg_ddl_guard(Node *parsetree);
extern bool kg_storage_unsealed(Oid relid);
extern void kg_owned_objects_done(Node *parsetree);
extern void kg_owned_check_drop_role(DropRoleStmt *stmt);

/* for tasks */
typedef void (*KgTxnFn) (void *arg);
extern bool kg_run_in_transaction(const char *what, KgTxnFn fn, void *arg);
extern void kg_loop_interrupts(void);
extern bool kg_launch_dynamic_worker(const char *function_name, const char *type, const char *name,
									 Datum main_arg, const void *extra, Size extra_size,
									 BackgroundWorkerHandle **handle);

/* databases used as templates (templates.c) */
extern void kg_stop_database_workers(Oid dboid, const char *reason);
extern const char *kg_copied_database(Node *parsetree);
extern bool kg_database_wants_worker(Oid dboid);
extern void kg_adopt_copy(void *arg);

/* bgworker entry points (must be exported) */
extern PGDLLEXPORT void kg_launcher_main(Datum main_arg);
extern PGDLLEXPORT void kg_worker_main(Datum main_arg);

#endif							/* KG_WORKER_H */
