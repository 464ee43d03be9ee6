/*-------------------------------------------------------------------------
 *
 * record_scan.c
 *		KinesisRecordScan: a custom scan that runs kinesis.read_shard and
 *		kinesis.get_records_rows in FROM without a tuplestore.
 *
 * PostgreSQL hands the rows of any set-returning function in FROM over
 * through a tuplestore: each row is formed, copied in, read back out and
 * deformed again, and the memory is given back at the end of the call.
 * For these two reads that is a third of the work of returning 10,000
 * records to a client.  The planner hook below offers, next to the
 * function scan, a CustomScan that runs the same read (record_read.c) one
 * record per call: the scan tuple is a virtual tuple whose values point at
 * the stored row in the segment's buffer, valid until the next call, as
 * the executor allows.  A node the executor means to rescan with the same
 * arguments (EXEC_FLAG_REWIND: the inner side of a nested loop, say) keeps
 * its rows in a tuplestore after all, so that every rescan returns the same
 * rows, as a function scan's would (a read again could see newer records,
 * and charge the read quota again).
 *
 * The path is offered only where it means the same as the function scan:
 * the function is ours (C, our library and symbol, the expected argument
 * types, neither SECURITY DEFINER nor SET), alone in its FROM item,
 * without ORDINALITY, its arguments free of the query's other relations
 * (no LATERAL references; outer parameters are fine, a change of them
 * rescans), and the query refers to its columns one by one (no whole-row
 * reference, which rowmarks of UPDATE ... FROM and FOR UPDATE also add).
 * At execution the node checks EXECUTE on the function as the function
 * scan would; the read itself makes the same checks (SELECT on the
 * stream) as the function.  kinesis_glue.enable_record_scan = off turns it
 * off (then the function scan runs, as without the hook).
 *
 * Locking: as read.c, AccessShareLock on the segment being read, held from
 * one row to the next.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/detoast.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "common/kg_compat.h"
#include "streams/record_read.h"
#include "streams/streams.h"

#define KG_RECORD_SCAN "KinesisRecordScan"

/* the reads the scan runs */
typedef enum KgRecordScanKind
{
	KG_SCAN_READ_SHARD,			/* kinesis.read_shard */
	KG_SCAN_GET_RECORDS_ROWS	/* kinesis.get_records_rows */
} KgRecordScanKind;

typedef struct KgRecordScanFunction
{
	const char *symbol;			/* pg_proc.prosrc */
	int			nargs;
	Oid			argtypes[4];
	int			natts;			/* columns of the result */
	const char *name;			/* for EXPLAIN */
} KgRecordScanFunction;

static const KgRecordScanFunction kg_scan_functions[] = {
	[KG_SCAN_READ_SHARD] = {"kg_read_shard", 4, {TEXTOID, TEXTOID, INT8OID, INT4OID},
	KG_STORED_NATTS, "kinesis.read_shard"},
	[KG_SCAN_GET_RECORDS_ROWS] = {"kg_get_records_rows", 3, {TEXTOID, INT4OID, INTERVALOID},
	KG_STORED_NATTS + 3, "kinesis.get_records_rows"},
};

typedef struct KgRecordScanState
{
	CustomScanState css;
	KgRecordScanKind kind;
	Oid			funcid;
	List	   *args;			/* ExprStates of the function's arguments */
	bool		started;		/* the read has begun */
	bool		finished;		/* every row returned */
	KgRecordRead rr;
	/* rescans without new arguments replay the first read (EXEC_FLAG_REWIND) */
	bool		rewind;
	Tuplestorestate *store;		/* the rows of the first read; NULL: none */
	TupleTableSlot *store_slot; /* rows read back from store */
} KgRecordScanState;

bool		kg_enable_record_scan = true;
static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;

static Plan *kg_record_scan_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
								 List *tlist, List *clauses, List *custom_plans);
static Node *kg_record_scan_create_state(CustomScan *cscan);
static void kg_record_scan_begin(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *kg_record_scan_exec(CustomScanState *node);
static void kg_record_scan_end(CustomScanState *node);
static void kg_record_scan_rescan(CustomScanState *node);
static void kg_record_scan_explain(CustomScanState *node, List *ancestors, ExplainState *es);
static TupleTableSlot *kg_record_scan_replay(ScanState *ss);

static const CustomPathMethods kg_record_path_methods = {
	.CustomName = KG_RECORD_SCAN,
	.PlanCustomPath = kg_record_scan_plan,
};

static const CustomScanMethods kg_record_scan_methods = {
	.CustomName = KG_RECORD_SCAN,
	.CreateCustomScanState = kg_record_scan_create_state,
};

static const CustomExecMethods kg_record_exec_methods = {
	.CustomName = KG_RECORD_SCAN,
	.BeginCustomScan = kg_record_scan_begin,
	.ExecCustomScan = kg_record_scan_exec,
	.EndCustomScan = kg_record_scan_end,
	.ReScanCustomScan = kg_record_scan_rescan,
	.ExplainCustomScan = kg_record_scan_explain,
};

/*
 * Is funcid one of the reads the scan runs, as this library defines it?
 * Sets *kind when it is.
 */
static bool
kg_record_scan_function(Oid funcid, KgRecordScanKind *kind)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	Form_pg_proc proc;
	bool		ok = false;

	if (!HeapTupleIsValid(tup))
		return false;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (proc->prolang == ClanguageId && proc->proretset && !proc->prosecdef &&
		heap_attisnull(tup, Anum_pg_proc_proconfig, NULL))
	{
		bool		isnull;
		char	   *probin = TextDatumGetCString(SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_probin, &isnull));
		char	   *prosrc = TextDatumGetCString(SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull));

		for (int k = 0; k < lengthof(kg_scan_functions) && !ok; k++)
		{
			const KgRecordScanFunction *f = &kg_scan_functions[k];

			if (strcmp(prosrc, f->symbol) != 0 || strcmp(probin, "$libdir/kinesis_glue") != 0 ||
				proc->pronargs != f->nargs)
				continue;
			ok = true;
			for (int i = 0; i < f->nargs; i++)
				ok = ok && proc->proargtypes.values[i] == f->argtypes[i];
			if (ok)
				*kind = (KgRecordScanKind) k;
		}
	}
	ReleaseSysCache(tup);
	return ok;
}

/* Does expr refer to relation rti other than by single columns? */
static bool
kg_refers_to_whole_row(Node *expr, Index rti)
{
	List	   *vars = pull_var_clause(expr, PVC_INCLUDE_AGGREGATES | PVC_INCLUDE_WINDOWFUNCS |
									   PVC_INCLUDE_PLACEHOLDERS);
	ListCell   *lc;

	foreach(lc, vars)
	{
		Node	   *n = lfirst(lc);

		if (!IsA(n, Var))
			return true;		/* a placeholder: keep to the function scan */
		if (((Var *) n)->varno == rti && ((Var *) n)->varattno <= 0)
			return true;
	}
	return false;
}

/*
 * set_rel_pathlist_hook: next to the function scan of read_shard or
 * get_records_rows, offer a KinesisRecordScan (see the file header for
 * when), costed a little lower so that it is chosen.
 */
static void
kg_record_scan_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	RangeTblFunction *rtfunc;
	FuncExpr   *fexpr;
	KgRecordScanKind kind;
	TupleDesc	desc;
	CustomPath *cpath;
	Path	   *fpath;
	ListCell   *lc;

	if (prev_set_rel_pathlist_hook)
		prev_set_rel_pathlist_hook(root, rel, rti, rte);
	if (!kg_enable_record_scan || rte->rtekind != RTE_FUNCTION ||
		list_length(rte->functions) != 1 || rte->funcordinality ||
		!bms_is_empty(rel->lateral_relids) || rel->pathlist == NIL)
		return;
	rtfunc = linitial_node(RangeTblFunction, rte->functions);
	if (!IsA(rtfunc->funcexpr, FuncExpr))
		return;
	fexpr = (FuncExpr *) rtfunc->funcexpr;
	if (!fexpr->funcretset || !kg_record_scan_function(fexpr->funcid, &kind))
		return;
	if (contain_subplans((Node *) fexpr->args) || contain_var_clause((Node *) fexpr->args))
		return;
	if (kg_refers_to_whole_row((Node *) rel->reltarget->exprs, rti))
		return;
	foreach(lc, rel->baserestrictinfo)
		if (kg_refers_to_whole_row((Node *) lfirst_node(RestrictInfo, lc)->clause, rti))
			return;
	desc = get_expr_result_tupdesc((Node *) fexpr, true);
	if (desc == NULL || desc->natts != kg_scan_functions[kind].natts ||
		rtfunc->funccolcount != desc->natts)
		return;
	for (int i = 0; i < desc->natts; i++)
		if (TupleDescAttr(desc, i)->attisdropped)
			return;

	fpath = (Path *) linitial(rel->pathlist);
	cpath = makeNode(CustomPath);
	cpath->path.pathtype = T_CustomScan;
	cpath->path.parent = rel;
	cpath->path.pathtarget = rel->reltarget;
	cpath->path.param_info = NULL;
	cpath->path.parallel_aware = false;
	cpath->path.parallel_safe = false;
	cpath->path.parallel_workers = 0;
	cpath->path.rows = rel->rows;
	/* rows come as they are read: no tuplestore to fill first */
	cpath->path.startup_cost = 0;
	cpath->path.total_cost = fpath->total_cost * 0.99;
	cpath->path.pathkeys = NIL;
	cpath->flags = 0;
	cpath->custom_paths = NIL;
	cpath->custom_private = list_make1(makeInteger(kind));
	cpath->methods = &kg_record_path_methods;
	add_path(rel, &cpath->path);
}

/*
 * The plan of a KinesisRecordScan path: scanrelid 0 (there is no relation
 * to open), the function's columns as the scan tuple (custom_scan_tlist),
 * its arguments to evaluate (custom_exprs).
 */
static Plan *
kg_record_scan_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
					List *tlist, List *clauses, List *custom_plans)
{
	RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
	FuncExpr   *fexpr = (FuncExpr *) linitial_node(RangeTblFunction, rte->functions)->funcexpr;
	TupleDesc	desc = get_expr_result_tupdesc((Node *) fexpr, false);
	CustomScan *cscan = makeNode(CustomScan);
	List	   *scan_tlist = NIL;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Var		   *var = makeVar(rel->relid, i + 1, att->atttypid, att->atttypmod,
								  att->attcollation, 0);

		scan_tlist = lappend(scan_tlist, makeTargetEntry((Expr *) var, i + 1,
														 pstrdup(NameStr(att->attname)), false));
	}
	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = extract_actual_clauses(clauses, false);
	cscan->scan.scanrelid = 0;
	cscan->flags = best_path->flags;
	cscan->custom_plans = NIL;
	cscan->custom_exprs = copyObject(fexpr->args);
	cscan->custom_private = list_make2(linitial(best_path->custom_private),
									   makeInteger((int) fexpr->funcid));
	cscan->custom_scan_tlist = scan_tlist;
	cscan->custom_relids = bms_make_singleton(rel->relid);
	cscan->methods = &kg_record_scan_methods;
	/* a change to the function invalidates cached plans, as for a FuncExpr */
	record_plan_function_dependency(root, fexpr->funcid);
	return &cscan->scan.plan;
}

static Node *
kg_record_scan_create_state(CustomScan *cscan)
{
	KgRecordScanState *st = (KgRecordScanState *) newNode(sizeof(KgRecordScanState),
														  T_CustomScanState);

	st->css.methods = &kg_record_exec_methods;
	st->kind = (KgRecordScanKind) intVal(linitial(cscan->custom_private));
	st->funcid = (Oid) intVal(lsecond(cscan->custom_private));
	return (Node *) st;
}

/* EXECUTE on the function, as the function scan checks it; the arguments. */
static void
kg_record_scan_begin(CustomScanState *node, EState *estate, int eflags)
{
	KgRecordScanState *st = (KgRecordScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	AclResult	aclresult;

	aclresult = pg_proc_aclcheck(st->funcid, GetUserId(), ACL_EXECUTE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(st->funcid));
	InvokeFunctionExecuteHook(st->funcid);
	st->args = ExecInitExprList(cscan->custom_exprs, &node->ss.ps);

	/*
	 * A node that is to be rescanned with the same arguments (the inner side
	 * of a nested loop, an uncorrelated subquery) returns the same rows each
	 * time, as a function scan does: the first read is kept.
	 */
	st->rewind = (eflags & EXEC_FLAG_REWIND) != 0;
	if (st->rewind)
		st->store_slot = ExecInitExtraTupleSlot(estate, node->ss.ss_ScanTupleSlot->tts_tupleDescriptor,
												&TTSOpsMinimalTuple);
}

/* Evaluate the arguments and begin the read (in the query's memory). */
static void
kg_record_scan_start(KgRecordScanState *st)
{
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;
	TupleDesc	desc = st->css.ss.ss_ScanTupleSlot->tts_tupleDescriptor;
	MemoryContext old;
	ListCell   *lc;
	int			i = 0;

	LOCAL_FCINFO(fcinfo, 4);

	InitFunctionCallInfoData(*fcinfo, NULL, list_length(st->args), InvalidOid, NULL, NULL);
	old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	foreach(lc, st->args)
	{
		fcinfo->args[i].value = ExecEvalExpr((ExprState *) lfirst(lc), econtext,
											 &fcinfo->args[i].isnull);
		i++;
	}
	MemoryContextSwitchTo(st->css.ss.ps.state->es_query_cxt);
	if (st->kind == KG_SCAN_READ_SHARD)
		kg_record_read_shard_begin(&st->rr, fcinfo, desc);
	else
		kg_record_read_iterator_begin(&st->rr, fcinfo, kg_record_read_wait_argument(fcinfo), desc);
	MemoryContextSwitchTo(old);
	st->started = true;
}

/* A value of a stored row as the slot may hold it: fetched if external. */
static inline Datum
kg_slot_value(Datum value, MemoryContext row_cxt)
{
	if (VARATT_IS_EXTERNAL(DatumGetPointer(value)))
	{
		MemoryContext old = MemoryContextSwitchTo(row_cxt);

		value = PointerGetDatum(detoast_external_attr((struct varlena *) DatumGetPointer(value)));
		MemoryContextSwitchTo(old);
	}
	return value;
}

/*
 * The next row into the scan slot: a record (values pointing at the stored
 * row, valid until the next call), for get_records_rows then its last row;
 * an empty slot at the end.
 */
static TupleTableSlot *
kg_record_scan_next(ScanState *ss)
{
	KgRecordScanState *st = (KgRecordScanState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;
	MemoryContext row_cxt = ss->ps.ps_ExprContext->ecxt_per_tuple_memory;
	MemoryContext old;
	KgStoredRecord rec;
	bool		more;

	if (st->rewind)
		return kg_record_scan_replay(ss);
	ExecClearTuple(slot);
	if (st->finished)
		return slot;
	if (!st->started)
		kg_record_scan_start(st);
	old = MemoryContextSwitchTo(ss->ps.state->es_query_cxt);
	more = kg_record_read_next(&st->rr, &rec);
	MemoryContextSwitchTo(old);
	if (more)
	{
		slot->tts_values[0] = st->rr.rows.shard_id;
		slot->tts_values[1] = Int64GetDatum(rec.seq);
		slot->tts_values[2] = TimestampTzGetDatum(rec.arrival);
		slot->tts_values[3] = kg_slot_value(rec.partition_key, row_cxt);
		slot->tts_values[4] = kg_slot_value(rec.data, row_cxt);
		for (int i = 0; i < slot->tts_tupleDescriptor->natts; i++)
			slot->tts_isnull[i] = i >= KG_STORED_NATTS;
		return ExecStoreVirtualTuple(slot);
	}
	kg_record_read_end(&st->rr);
	st->finished = true;
	if (st->kind == KG_SCAN_GET_RECORDS_ROWS)
	{
		KgGetResult out;

		old = MemoryContextSwitchTo(row_cxt);
		kg_record_read_result(&st->rr, &out);
		kg_get_records_last_row(slot->tts_tupleDescriptor, &out, slot->tts_values, slot->tts_isnull);
		MemoryContextSwitchTo(old);
		return ExecStoreVirtualTuple(slot);
	}
	return slot;
}

/*
 * The next row of a node that may be rescanned with the same arguments:
 * the first call reads everything into a tuplestore (as a function scan
 * would), every call returns the next row from it (the scan slot's values
 * point into the tuplestore's row, valid until the next call).
 */
static TupleTableSlot *
kg_record_scan_replay(ScanState *ss)
{
	KgRecordScanState *st = (KgRecordScanState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;
	TupleDesc	desc = slot->tts_tupleDescriptor;

	if (st->store == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(ss->ps.state->es_query_cxt);
		KgStoredRecord rec;

		st->store = tuplestore_begin_heap(true, false, work_mem);
		kg_record_scan_start(st);
		while (kg_record_read_next(&st->rr, &rec))
			kg_record_rows_put(&st->rr.rows, &rec, st->store);
		kg_record_read_end(&st->rr);
		if (st->kind == KG_SCAN_GET_RECORDS_ROWS)
		{
			KgGetResult out;
			Datum	   *values = palloc(sizeof(Datum) * desc->natts);
			bool	   *nulls = palloc(sizeof(bool) * desc->natts);

			kg_record_read_result(&st->rr, &out);
			kg_get_records_last_row(desc, &out, values, nulls);
			tuplestore_putvalues(st->store, desc, values, nulls);
		}
		MemoryContextSwitchTo(old);
	}
	ExecClearTuple(slot);
	if (!tuplestore_gettupleslot(st->store, true, false, st->store_slot))
		return slot;
	/* the scan slot is virtual (expressions are built for it): its values */
	slot_getallattrs(st->store_slot);
	memcpy(slot->tts_values, st->store_slot->tts_values, sizeof(Datum) * desc->natts);
	memcpy(slot->tts_isnull, st->store_slot->tts_isnull, sizeof(bool) * desc->natts);
	return ExecStoreVirtualTuple(slot);
}

/* No relation to recheck (the path is not used under row marks). */
static bool
kg_record_scan_recheck(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
kg_record_scan_exec(CustomScanState *node)
{
	return ExecScan(&node->ss, kg_record_scan_next, kg_record_scan_recheck);
}

/*
 * End the read, if it is still open (a LIMIT above, a cursor closed), and
 * drop the kept rows.
 */
static void
kg_record_scan_end(CustomScanState *node)
{
	KgRecordScanState *st = (KgRecordScanState *) node;

	if (st->started)
		kg_record_read_end(&st->rr);
	st->started = false;
	st->finished = false;
	if (st->store)
		tuplestore_end(st->store);
	st->store = NULL;
}

/*
 * Start again: with the kept rows when the arguments did not change, else
 * with a new read of the arguments evaluated again.
 */
static void
kg_record_scan_rescan(CustomScanState *node)
{
	KgRecordScanState *st = (KgRecordScanState *) node;

	if (st->store != NULL && node->ss.ps.chgParam == NULL)
		tuplestore_rescan(st->store);
	else
		kg_record_scan_end(node);
	ExecScanReScan(&node->ss);
}

static void
kg_record_scan_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	KgRecordScanState *st = (KgRecordScanState *) node;

	ExplainPropertyText("Function", kg_scan_functions[st->kind].name, es);
}

/*
 * Register the scan and its setting (from kg_streams_init, in every
 * process that loads the library).
 */
void
kg_record_scan_init(void)
{
	DefineCustomBoolVariable("kinesis_glue.enable_record_scan",
							 "Runs read_shard and get_records_rows in FROM as a KinesisRecordScan.",
							 "The scan returns each record as it is read, without the tuplestore of a function scan; off: a function scan.",
							 &kg_enable_record_scan, true, PGC_USERSET, 0, NULL, NULL, NULL);
	RegisterCustomScanMethods(&kg_record_scan_methods);
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = kg_record_scan_pathlist;
}
