/*-------------------------------------------------------------------------
 *
 * poll_runner.c
 *		The body of a long-lived runner that polls one object for work:
 *		Firehose delivery streams and video stream processors.  Each
 *		component describes its object (KgPollRunner) and its bgworker
 *		entry point calls kg_poll_runner_main().
 *
 * Each round the runner re-reads the object as the extension owner
 * (check_sql) and leaves when it is gone or disabled; otherwise it runs
 * batch_sql as the object's owner (kg_run_as_owner: security-restricted,
 * its own transaction, under the component's timeout) until a batch
 * reports no work or max_batches have run, then sleeps on its latch for
 * kinesis_glue.worker_naptime.  A batch that fails is logged and the next
 * round tries again (the component's SQL records failures and backoff).
 * So a stuck transform or processor holds up its own object only, never the
 * per-database worker.
 *
 * Locking: none of its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"

#include "common/kg_catalog.h"
#include "common/kg_guc.h"
#include "worker/kg_runner.h"
#include "worker/kg_worker.h"

typedef struct KgPollState
{
	const KgPollRunner *spec;
	int64		id;
	Oid			owner;			/* InvalidOid: gone or disabled */
	bool		due;
	int64		done;			/* what the last batch reported */
} KgPollState;

/* Transaction body: re-read the object (as the extension owner). */
static void
kg_poll_check(void *arg)
{
	KgPollState *ps = (KgPollState *) arg;
	KgCatalogContext cc;

	ps->owner = InvalidOid;
	ps->due = false;
	kg_catalog_enter(&cc, false);
	if (kg_spi_exec(ps->spec->check_sql, 1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(ps->id)},
					NULL, true) == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			ps->owner = DatumGetObjectId(d);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		ps->due = !isnull && DatumGetBool(d);
	}
	kg_catalog_exit(&cc);
}

/* on_result of a batch: the work it reports (one integer; NULL: none) */
static void
kg_poll_result(void *arg)
{
	KgPollState *ps = (KgPollState *) arg;
	bool		isnull;
	Datum		d;

	ps->done = 0;
	if (SPI_processed != 1)
		return;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		ps->done = SPI_tuptable->tupdesc->attrs[0].atttypid == INT8OID ?
			DatumGetInt64(d) : (int64) DatumGetInt32(d);
}

/* Run spec SQL once as the owner; log a failure.  Returns the work done. */
static int64
kg_poll_call(KgPollState *ps, const char *sql)
{
	KgOwnerCall call = {0};

	call.owner = ps->owner;
	call.sql = sql;
	call.nargs = 1;
	call.argtypes = (Oid[]) {INT8OID};
	call.args = (Datum[]) {Int64GetDatum(ps->id)};
	call.timeout_ms = ps->spec->timeout_ms ? ps->spec->timeout_ms() : 0;
	call.own_transaction = true;
	call.on_result = kg_poll_result;
	call.arg = ps;
	ps->done = 0;
	if (kg_run_as_owner(&call))
		return ps->done;
	ereport(LOG,
			(errmsg("kinesis_glue %s %lld: a batch failed", ps->spec->kind->name, (long long) ps->id),
			 errdetail("%s", call.error)));
	return 0;
}

/*
 * Entry point body of a polling runner (see the file header).  Never
 * returns.
 */
void
kg_poll_runner_main(const KgPollRunner *spec)
{
	KgRunnerInfo info;
	KgPollState ps;
	MemoryContext cxt;
	bool		started = false;

	kg_runner_start(&info);
	cxt = AllocSetContextCreate(TopMemoryContext, "kinesis_glue polling runner", ALLOCSET_DEFAULT_SIZES);

	memset(&ps, 0, sizeof(ps));
	ps.spec = spec;
	ps.id = info.id;
	for (;;)
	{
		kg_loop_interrupts();
		MemoryContextReset(cxt);
		MemoryContextSwitchTo(cxt);
		if (!kg_run_in_transaction("kinesis_glue: check the object", kg_poll_check, &ps))
			ps.owner = InvalidOid;
		if (!OidIsValid(ps.owner))
			proc_exit(0);		/* gone, disabled or unreadable: the supervisor decides */
		if (!started && spec->start_sql)
			(void) kg_poll_call(&ps, spec->start_sql);
		started = true;
		for (int i = 0; ps.due && i < spec->max_batches; i++)
		{
			if (kg_poll_call(&ps, spec->batch_sql) <= 0)
				break;
			CHECK_FOR_INTERRUPTS();
		}
		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 kg_worker_naptime_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

typedef struct KgObjectList
{
	const char *sql;
	MemoryContext cxt;			/* the caller's */
	List	   *rows;			/* of KgObjectRef */
} KgObjectList;

/* Transaction body of kg_list_objects. */
static void
kg_list_objects_txn(void *arg)
{
	KgObjectList *l = (KgObjectList *) arg;
	KgCatalogContext cc;
	int			n;

	kg_catalog_enter(&cc, false);
	n = kg_spi_exec(l->sql, 0, NULL, NULL, NULL, true);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(l->cxt);
		KgObjectRef *row = palloc(sizeof(KgObjectRef));

		row->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		row->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		l->rows = lappend(l->rows, row);
		MemoryContextSwitchTo(old);
	}
	kg_catalog_exit(&cc);
}

/*
 * For worker tasks: the rows (id int8, owner oid) of sql, read as the
 * extension owner in a transaction of its own, as a List of KgObjectRef in
 * the caller's memory context (list_free_deep it, or let the context go).
 * *ok is false, and the list empty, when the listing failed (logged).
 */
List *
kg_list_objects(const char *what, const char *sql, bool *ok)
{
	KgObjectList l = {sql, CurrentMemoryContext, NIL};

	*ok = kg_run_in_transaction(what, kg_list_objects_txn, &l);
	if (!*ok)
	{
		list_free_deep(l.rows);	/* what the failed listing got so far */
		l.rows = NIL;
	}
	return l.rows;
}

/*
 * Supervisor task body for a polling kind: want a runner for every row of
 * list_sql (id int8, owner oid), read as the extension owner, and stop the
 * runners of the others.
 */
void
kg_poll_supervise(const KgPollRunner *spec)
{
	bool		ok;
	List	   *rows;
	ListCell   *lc;

	kg_runner_round_begin(spec->kind);
	rows = kg_list_objects("kinesis_glue: list polled objects", spec->list_sql, &ok);
	if (!ok)
		return;
	foreach(lc, rows)
	{
		KgObjectRef *row = lfirst(lc);

		(void) kg_runner_want(spec->kind, row->id, 0, 0, row->owner);
	}
	kg_runner_round_end(spec->kind, true);
	list_free_deep(rows);
}
