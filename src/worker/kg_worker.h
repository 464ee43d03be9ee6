/*-------------------------------------------------------------------------
 *
 * kg_worker.h
 *		The launcher, the per-database workers and the registry of
 *		periodic tasks that later components plug into.
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

#include "nodes/nodes.h"
#include "nodes/parsenodes.h"
#include "postmaster/bgworker.h"

typedef struct KgTask
{
	const char *name;			/* shown in logs and kinesis_glue.tasks */
	int			(*interval_ms) (void);	/* how often; read each round */
	void		(*run) (void);	/* one round; runs outside a transaction */
	bool		run_when_woken; /* also run at once when the worker is woken */
} KgTask;

extern const KgTask kg_tasks[];
extern const int kg_ntasks;

/* registration (postmaster) */
extern void kg_register_launcher(void);
extern void kg_worker_init_hooks(void);

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
