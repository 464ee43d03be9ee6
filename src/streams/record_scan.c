/*-------------------------------------------------------------------------
 *
 * record_scan.c
 *		KinesisRecordScan: a custom scan that runs our record reads in FROM
 *		without a tuplestore: kinesis.read_shard, kinesis.get_records_rows,
 *		kinesis.get_records (record_read.c) and glue.bookmark_records
 *		(glue/bookmarks.c); and kinesis.put_record's one row (put.c), whose
 *		put runs when the scan starts, as at a function scan's first fetch.
 *
 * PostgreSQL hands the rows of any set-returning function in FROM over
 * through a tuplestore: each row is formed, copied in, read back out and
 * deformed again, and the memory is given back at the end of the call.
 * For these reads that is a third of the work of returning 10,000 records
 * to a client; and a function scan reads everything before the first row
 * is returned, so a consume under a LIMIT moves its checkpoints past
 * records nobody got.  The planner hook below offers, next to the function
 * scan, a CustomScan that runs the same read one record per call, through
 * the steps its component registered (record_scan.h, a provider): the scan
 * tuple is a virtual tuple whose values point at the stored row in the
 * segment's buffer, valid until the next call, as the executor allows.  A
 * read ended early (a LIMIT above, a cursor closed) ends at the last row
 * returned.  A node the executor means to rescan with the same
 * arguments (EXEC_FLAG_REWIND: the inner side of a nested loop, say) keeps
 * its rows in a tuplestore after all, so that every rescan returns the same
 * rows, as a function scan's would (a read again could see newer records,
 * and charge the read quota again).
 *
 * The path is offered only where it means the same as the function scan:
 * the function is ours (C, our library and a provider's symbol, the
 * provider's argument types, not SECURITY DEFINER, no SET clause but the
 * provider's, which the node applies around the read's begin and end
 * steps, as the function would), alone in its FROM item,
 * without ORDINALITY, its arguments free of the query's other relations
 * (no LATERAL references; outer parameters are fine, a change of them
 * rescans), and the query refers to its columns one by one (no whole-row
 * reference, which rowmarks of UPDATE ... FROM and FOR UPDATE also add).
 * At execution the node checks EXECUTE on the function as the function
 * scan would; the read itself makes the same checks (SELECT on the
 * stream) as the function.  With track_functions = all, the read's steps
 * are counted and timed as one call of the function in
 * pg_stat_user_functions, as the function scan's call would be.
 * kinesis_glue.enable_record_scan = off turns it off (then the function
 * scan runs, as without the hook).
 *
 * Locking: as the provider's read; for the shard reads, AccessShareLock on
 * the segment being read, held from one row to the next.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
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
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "common/kg_compat.h"
#include "streams/record_scan.h"
#include "streams/streams.h"

#define KG_RECORD_SCAN "KinesisRecordScan"
#define KG_RECORD_SCAN_MAX_PROVIDERS 8

/* the registered reads (in _PG_init, so the same in every process) */
static const KgRecordScanProvider *kg_scan_providers[KG_RECORD_SCAN_MAX_PROVIDERS];
static int	kg_scan_nproviders = 0;

typedef struct KgRecordScanState
{
	CustomScanState css;
	const KgRecordScanProvider *provider;
	Oid			funcid;
	List	   *args;			/* ExprStates of the function's arguments */
	bool		started;		/* the read has begun */
	bool		finished;		/* every row returned */
	void	   *read;			/* the provider's state */
	/* rescans without new arguments replay the first read (EXEC_FLAG_REWIND) */
	bool		rewind;
	Tuplestorestate *store;		/* the rows of the first read; NULL: none */
	TupleTableSlot *store_slot; /* rows read back from store */
	/* the function, as pgstat sees it (pg_stat_user_functions) */
	FmgrInfo	stats_flinfo;
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
 * Register a read the scan runs (from a component's init, in _PG_init):
 * provider must live as long as the process.
 */
void
kg_record_scan_register(const KgRecordScanProvider *provider)
{
	if (kg_scan_nproviders >= KG_RECORD_SCAN_MAX_PROVIDERS)
		elog(ERROR, "too many KinesisRecordScan providers");
	kg_scan_providers[kg_scan_nproviders++] = provider;
}

/*
 * Declared in record_scan.h: the next step of a read of one row, whose state
 * starts with the KgRecordScanRow its begin step filled.
 */
bool
kg_record_scan_row_next(void *state, Datum *values, bool *nulls, MemoryContext row_cxt)
{
	KgRecordScanRow *row = (KgRecordScanRow *) state;

	if (row->returned)
		return false;
	row->returned = true;
	memcpy(values, row->values, sizeof(Datum) * row->natts);
	memcpy(nulls, row->nulls, sizeof(bool) * row->natts);
	return true;
}

/* The provider of symbol, or NULL. */
static const KgRecordScanProvider *
kg_record_scan_provider(const char *symbol)
{
	for (int k = 0; k < kg_scan_nproviders; k++)
		if (strcmp(kg_scan_providers[k]->symbol, symbol) == 0)
			return kg_scan_providers[k];
	return NULL;
}

/* Is proconfig (pg_proc's, or NULL) the provider's SET clause? */
static bool
kg_record_scan_config_ok(const KgRecordScanProvider *p, Datum proconfig, bool isnull)
{
	ArrayType  *config;
	Datum	   *items;
	int			n;
	bool		ok;

	if (isnull || p->proconfig == NULL)
		return isnull && p->proconfig == NULL;
	config = DatumGetArrayTypeP(proconfig);
	deconstruct_array(config, TEXTOID, -1, false, TYPALIGN_INT, &items, NULL, &n);
	ok = n == 1 && strcmp(TextDatumGetCString(items[0]), p->proconfig) == 0;
	return ok;
}

/*
 * The provider of funcid if it is one of the reads the scan runs, as this
 * library defines it (see the file header); else NULL.
 */
static const KgRecordScanProvider *
kg_record_scan_function(Oid funcid)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	Form_pg_proc proc;
	const KgRecordScanProvider *found = NULL;

	if (!HeapTupleIsValid(tup))
		return NULL;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (proc->prolang == ClanguageId && !proc->prosecdef)
	{
		bool		isnull;
		char	   *probin = TextDatumGetCString(SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_probin, &isnull));
		char	   *prosrc = TextDatumGetCString(SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull));
		const KgRecordScanProvider *p = kg_record_scan_provider(prosrc);
		Datum		config = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proconfig, &isnull);

		if (p != NULL && strcmp(probin, "$libdir/kinesis_glue") == 0 && proc->pronargs == p->nargs &&
			proc->proretset == p->retset &&
			kg_record_scan_config_ok(p, config, isnull))
		{
			found = p;
			for (int i = 0; i < p->nargs; i++)
				if (proc->proargtypes.values[i] != p->argtypes[i])
					found = NULL;
		}
	}
	ReleaseSysCache(tup);
	return found;
}

/* Does expr refer to relation rti other than by single columns? */
static bool
kg_expr_refers_to_whole_row(Node *expr, Index rti)
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
 * Declared in record_scan.h: does the query refer to function RTE rti
 * (relation rel) other than by single columns (a whole-row reference, also
 * added by row marks; a placeholder)?  Then only the function scan means
 * the same.
 */
bool
kg_scan_refers_to_whole_row(RelOptInfo *rel, Index rti)
{
	ListCell   *lc;

	if (kg_expr_refers_to_whole_row((Node *) rel->reltarget->exprs, rti))
		return true;
	foreach(lc, rel->baserestrictinfo)
		if (kg_expr_refers_to_whole_row((Node *) lfirst_node(RestrictInfo, lc)->clause, rti))
			return true;
	return false;
}

/*
 * Declared in record_scan.h: the CustomScan of a path over function RTE
 * rel that runs the function itself: scanrelid 0 (there is no relation to
 * open), the function's columns as the scan tuple (custom_scan_tlist), its
 * arguments to evaluate (custom_exprs; the core makes references to other
 * relations nestloop parameters when the path is parameterized).
 */
CustomScan *
kg_scan_function_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path, List *tlist,
					  List *clauses, const CustomScanMethods *methods)
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
	cscan->custom_scan_tlist = scan_tlist;
	cscan->custom_relids = bms_make_singleton(rel->relid);
	cscan->methods = methods;
	return cscan;
}

/*
 * set_rel_pathlist_hook: next to the function scan of a registered read,
 * offer a KinesisRecordScan (see the file header for
 * when), costed a little lower so that it is chosen.
 */
static void
kg_record_scan_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	RangeTblFunction *rtfunc;
	FuncExpr   *fexpr;
	const KgRecordScanProvider *provider;
	TupleDesc	desc;
	CustomPath *cpath;
	Path	   *fpath;

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
	if ((provider = kg_record_scan_function(fexpr->funcid)) == NULL ||
		fexpr->funcretset != provider->retset)
		return;
	if (contain_subplans((Node *) fexpr->args) || contain_var_clause((Node *) fexpr->args))
		return;
	if (kg_scan_refers_to_whole_row(rel, rti))
		return;
	desc = get_expr_result_tupdesc((Node *) fexpr, true);
	if (desc == NULL || desc->natts != provider->natts ||
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
	cpath->custom_private = list_make1(makeString(pstrdup(provider->symbol)));
	cpath->methods = &kg_record_path_methods;
	add_path(rel, &cpath->path);
}

/*
 * The plan of a KinesisRecordScan path (kg_scan_function_plan), with the
 * provider and the function in custom_private.
 */
static Plan *
kg_record_scan_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
					List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cscan = kg_scan_function_plan(root, rel, best_path, tlist, clauses,
											  &kg_record_scan_methods);
	RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
	Oid			funcid = ((FuncExpr *) linitial_node(RangeTblFunction, rte->functions)->funcexpr)->funcid;

	cscan->custom_private = list_make2(linitial(best_path->custom_private), makeInteger((int) funcid));
	/* a change to the function invalidates cached plans, as for a FuncExpr */
	record_plan_function_dependency(root, funcid);
	return &cscan->scan.plan;
}

static Node *
kg_record_scan_create_state(CustomScan *cscan)
{
	KgRecordScanState *st = (KgRecordScanState *) newNode(sizeof(KgRecordScanState),
														  T_CustomScanState);

	st->css.methods = &kg_record_exec_methods;
	st->provider = kg_record_scan_provider(strVal(linitial(cscan->custom_private)));
	if (st->provider == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the plan runs the read \"%s\" as a KinesisRecordScan, which this library does not provide",
						strVal(linitial(cscan->custom_private))),
				 errhint("Run DISCARD PLANS and the statement again.")));
	st->funcid = (Oid) intVal(lsecond(cscan->custom_private));
	/* what fmgr_info sets for a C function, all that pgstat reads */
	st->stats_flinfo.fn_oid = st->funcid;
	st->stats_flinfo.fn_stats = TRACK_FUNC_PL;
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

/*
 * Enter the function's SET clause, if it has one (as fmgr does for a
 * function with one); returns the GUC nest level to leave, or -1.
 */
static int
kg_record_scan_enter_config(KgRecordScanState *st)
{
	HeapTuple	tup;
	Datum		config;
	bool		isnull;
	int			level;

	if (st->provider->proconfig == NULL)
		return -1;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(st->funcid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", st->funcid);
	config = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proconfig, &isnull);
	level = NewGUCNestLevel();
	if (!isnull)
		ProcessGUCArray(DatumGetArrayTypeP(config), superuser() ? PGC_SUSET : PGC_USERSET,
						PGC_S_SESSION, GUC_ACTION_SAVE);
	ReleaseSysCache(tup);
	return level;
}

static void
kg_record_scan_leave_config(int level)
{
	if (level >= 0)
		AtEOXact_GUC(true, level);
}

/*
 * Count and time the steps of a read as one call of the function in
 * pg_stat_user_functions, as a function scan's call is (with
 * track_functions = all, for a C function): each step from
 * kg_record_scan_step_begin to kg_record_scan_step_end, the call counted
 * at the end step (finalize).  Nothing when the setting is lower.
 */
static inline void
kg_record_scan_step_begin(KgRecordScanState *st, PgStat_FunctionCallUsage *fcu)
{
	LOCAL_FCINFO(fcinfo, 0);

	fcu->fs = NULL;
	if (pgstat_track_functions <= st->stats_flinfo.fn_stats)
		return;					/* not wanted (pgstat's own test, made first) */
	InitFunctionCallInfoData(*fcinfo, &st->stats_flinfo, 0, InvalidOid, NULL, NULL);
	pgstat_init_function_usage(fcinfo, fcu);
}

static inline void
kg_record_scan_step_end(PgStat_FunctionCallUsage *fcu, bool finalize)
{
	if (fcu->fs != NULL)
		pgstat_end_function_usage(fcu, finalize);
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
	int			level;
	PgStat_FunctionCallUsage fcu;

	LOCAL_FCINFO(fcinfo, KG_RECORD_SCAN_MAX_ARGS);

	InitFunctionCallInfoData(*fcinfo, NULL, list_length(st->args), InvalidOid, NULL, NULL);
	old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	foreach(lc, st->args)
	{
		fcinfo->args[i].value = ExecEvalExpr((ExprState *) lfirst(lc), econtext,
											 &fcinfo->args[i].isnull);
		i++;
	}
	MemoryContextSwitchTo(st->css.ss.ps.state->es_query_cxt);
	st->read = palloc0(st->provider->state_size);
	level = kg_record_scan_enter_config(st);
	kg_record_scan_step_begin(st, &fcu);
	st->provider->begin(st->read, fcinfo, desc);
	kg_record_scan_step_end(&fcu, false);
	kg_record_scan_leave_config(level);
	MemoryContextSwitchTo(old);
	st->started = true;
}

/* End the read if it has begun and not ended yet. */
static void
kg_record_scan_stop(KgRecordScanState *st)
{
	int			level;
	PgStat_FunctionCallUsage fcu;

	if (!st->started)
		return;
	st->started = false;
	level = kg_record_scan_enter_config(st);
	kg_record_scan_step_begin(st, &fcu);
	if (st->provider->end)
		st->provider->end(st->read);
	kg_record_scan_step_end(&fcu, true);
	kg_record_scan_leave_config(level);
}

/*
 * The next row of the read into the slot's values (false at the end, when
 * the read is ended).
 */
static bool
kg_record_scan_read_next(KgRecordScanState *st, TupleTableSlot *slot)
{
	MemoryContext old = MemoryContextSwitchTo(st->css.ss.ps.state->es_query_cxt);
	bool		more;
	PgStat_FunctionCallUsage fcu;

	if (!st->started)
		kg_record_scan_start(st);
	kg_record_scan_step_begin(st, &fcu);
	more = st->provider->next(st->read, slot->tts_values, slot->tts_isnull,
							  st->css.ss.ps.ps_ExprContext->ecxt_per_tuple_memory);
	kg_record_scan_step_end(&fcu, false);
	MemoryContextSwitchTo(old);
	if (!more)
	{
		kg_record_scan_stop(st);
		st->finished = true;
	}
	return more;
}

/*
 * The next row into the scan slot (a virtual tuple whose values are valid
 * until the next call); an empty slot at the end.
 */
static TupleTableSlot *
kg_record_scan_next(ScanState *ss)
{
	KgRecordScanState *st = (KgRecordScanState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;

	if (st->rewind)
		return kg_record_scan_replay(ss);
	ExecClearTuple(slot);
	if (!st->finished && kg_record_scan_read_next(st, slot))
		return ExecStoreVirtualTuple(slot);
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

		st->store = tuplestore_begin_heap(true, false, work_mem);
		MemoryContextSwitchTo(old);
		while (!st->finished && kg_record_scan_read_next(st, slot))
		{
			tuplestore_putvalues(st->store, desc, slot->tts_values, slot->tts_isnull);
			ResetExprContext(ss->ps.ps_ExprContext);
		}
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

	kg_record_scan_stop(st);
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

	ExplainPropertyText("Function", st->provider->name, es);
}

/*
 * Register the scan and its setting (from kg_streams_init, in every
 * process that loads the library).
 */
void
kg_record_scan_init(void)
{
	DefineCustomBoolVariable("kinesis_glue.enable_record_scan",
							 "Runs the record reads and put_record in FROM as a KinesisRecordScan.",
							 "The scan returns each record as it is read, without the tuplestore of a function scan; off: a function scan.",
							 &kg_enable_record_scan, true, PGC_USERSET, 0, NULL, NULL, NULL);
	RegisterCustomScanMethods(&kg_record_scan_methods);
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = kg_record_scan_pathlist;
}
